import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '**/data/**',
      'coverage/**',
      '**/.next/**',
      '**/next-env.d.ts',
      'packages/server/web/**',
    ],
  },
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
  // The server's layers point one way: app/cli -> http -> core -> store. Nothing imports upward,
  // and no module of the server imports itself back through others (a cycle).
  {
    files: ['packages/server/src/store/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+(core|http|config|app|cli|jobs|mail)/',
              message:
                'store is the bottom layer: it must not import core, http, config, app, cli, jobs or mail.',
            },
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
        {
          patterns: [
            {
              regex: '^(\\.\\./)+(http|config|app|cli|jobs)/',
              message:
                'core must not import http, config, app, cli or jobs: take what it needs as arguments.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['packages/server/src/http/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+(app|cli|jobs)/',
              message: 'http must not import app, cli or jobs (the composition root wires them).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['packages/server/src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      // The dependency files must be parsed as TypeScript too, or a cycle goes unseen.
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [
        createTypeScriptImportResolver({ project: 'packages/server/tsconfig.json' }),
      ],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
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
