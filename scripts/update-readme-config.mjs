// Regenerates the README's configuration table from the config module (after `npm run build`).
import { readFileSync, writeFileSync } from 'node:fs';
import { configurationTable } from '../dist/common/config.js';

const readme = readFileSync('README.md', 'utf8');
const updated = readme.replace(
  /<!-- config-table:start -->\n[\s\S]*?<!-- config-table:end -->/,
  `<!-- config-table:start -->\n${configurationTable()}\n<!-- config-table:end -->`,
);
writeFileSync('README.md', updated);
