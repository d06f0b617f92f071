import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Tests use the contract's source, so `npm test` needs no build; built code uses its dist.
    alias: {
      '@latchkey/contract': fileURLToPath(
        new URL('./packages/contract/src/index.ts', import.meta.url),
      ),
    },
  },
  test: {
    // Server, guard, SDK, the bench's helpers and the browser end-to-end suite run in Node; the web pages' component
    // tests (.test.tsx) in jsdom.
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['packages/*/test/**/*.test.ts', 'bench/**/*.test.mjs'],
          globalSetup: ['packages/server/test/support/global-setup.ts'],
        },
      },
      {
        extends: true,
        resolve: {
          alias: {
            '@latchkey/sdk': fileURLToPath(new URL('./packages/sdk/src/index.ts', import.meta.url)),
          },
        },
        test: { name: 'web', include: ['packages/web/test/**/*.test.tsx'], environment: 'jsdom' },
      },
    ],
    pool: 'forks',
    // The suites wait on databases, servers and a browser more than they compute: two workers on
    // two cores finish in about 60% of the time of vitest's default (cores - 1).
    maxWorkers: Math.max(2, availableParallelism()),
    testTimeout: 30_000,
    hookTimeout: 60_000,
    env: { LOG_LEVEL: 'silent' },
  },
});
