import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/data/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  // The server's layers point one way, http -> core -> store: nothing imports upward.
  {
    files: ['packages/server/src/store/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^(\\.\\./)+(core|http)/', message: 'store must not import core or http.' },
          ],
        },
      ],
    },
  },
  {
    files: ['packages/server/src/core/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^(\\.\\./)+http/', message: 'core must not import http.' }] },
      ],
    },
  },
  // The contract is what server, SDK and pages share: it imports none of them.
  {
    files: ['packages/contract/src/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@latchkey/*'], message: 'the contract depends on no other package.' },
            { regex: '^(\\.\\./)+', message: 'the contract depends on no other package.' },
          ],
        },
      ],
    },
  },
  // The web pages run in browsers.
  { files: ['packages/web/src/**'], languageOptions: { globals: { ...globals.browser } } },
  prettier,
);
