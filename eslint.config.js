import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

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
  // The web pages' scripts run in the browser.
  { files: ['web/**/*.js'], languageOptions: { globals: { ...globals.browser }, sourceType: 'script' } },
  // Logging goes through winston only: no console in the product.
  { files: ['src/**/*.ts'], rules: { 'no-console': 'error' } },
);
