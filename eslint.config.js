import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/**
 * The one-way import rule of docs/design.md: commands → stages → common. A stage never imports a command
 * nor another stage (the one exception: analysis workers use dedupe's pure per-frame functions through
 * `dedupe/features.js`, never the whole stage); common imports no stage; commands use a stage only through
 * its `index.ts`. tests/unit/common/import-rule.unit.test.ts proves a violation fails `npm run lint`.
 */
const STAGES = ['stream', 'processing', 'analysis', 'dedupe', 'results', 'search'];
const up = '^(\\.\\./)+';
const RULE = 'docs/design.md: imports run one way, commands → stages → common';

function importRule(files, patterns, paths = []) {
  return { files, rules: { 'no-restricted-imports': ['error', { paths, patterns }] } };
}

const stageRules = STAGES.map((stage) => {
  const others = STAGES.filter((s) => s !== stage && !(stage === 'analysis' && s === 'dedupe'));
  const patterns = [
    { regex: `${up}commands/`, message: `a stage never imports a command (${RULE})` },
    { regex: `${up}(${others.join('|')})/`, message: `a stage never imports another stage (${RULE})` },
  ];
  if (stage !== 'analysis') return importRule([`src/${stage}/**/*.ts`], patterns);
  patterns.push({
    regex: `${up}dedupe/(?!features\\.js$)`,
    message: `workers use dedupe only through dedupe/features.js, its pure per-frame face (${RULE})`,
  });
  // Workers load this stage: they must not pull in the vector index or an HTTP server.
  const paths = ['hnswlib-node', 'node:http', 'http'].map((name) => ({
    name,
    message: 'the analysis workers must not load hnswlib or node:http',
  }));
  return importRule(['src/analysis/**/*.ts'], patterns, paths);
});

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', 'out/', 'bench/results/', 'training/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // The live page runs in the browser (web/app/, served by run and app).
  { files: ['web/**/*.js'], languageOptions: { globals: { ...globals.browser } } },
  // Logging goes through winston only: no console in the product.
  { files: ['src/**/*.ts'], rules: { 'no-console': 'error' } },
  ...stageRules,
  importRule(
    ['src/common/**/*.ts'],
    [{ regex: `${up}(${[...STAGES, 'commands'].join('|')})/`, message: `common imports no stage (${RULE})` }],
  ),
  importRule(
    ['src/commands/**/*.ts', 'src/cli.ts'],
    [
      {
        regex: `${up}(${STAGES.join('|')})/(?!index\\.js$)`,
        message: `a command uses a stage through its index.ts only (${RULE})`,
      },
    ],
  ),
);
