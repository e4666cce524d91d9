import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configurationTable } from '../../../src/common/config.js';
import { PROJECT_ROOT } from '../../../src/common/paths.js';

describe('README configuration table', () => {
  it('lists exactly the options the config module validates', () => {
    const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
    const match = /<!-- config-table:start -->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(readme);
    expect(match, 'README.md has the config-table markers').not.toBeNull();
    expect(match![1]).toBe(configurationTable());
  });
});
