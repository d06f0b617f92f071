import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const from = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: from('.'),
  base: '/',
  plugins: [react()],
  resolve: {
    // The sources, so a web build needs no other package built first.
    alias: {
      '@latchkey/sdk': from('../sdk/src/index.ts'),
      '@latchkey/contract': from('../contract/src/index.ts'),
    },
  },
  // zxcvbn's dictionaries are one lazily loaded chunk of ~430 kB. The pages are built into the
  // server package, which serves them and ships them when it is packed.
  build: {
    outDir: from('../server/web'),
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 1000,
  },
  server: {
    // `npm run dev -w @latchkey/web` next to a server on :3000.
    proxy: Object.fromEntries(
      ['/auth', '/admin', '/dev', '/config.json', '/common-passwords.txt'].map((p) => [
        p,
        'http://localhost:3000',
      ]),
    ),
  },
});
