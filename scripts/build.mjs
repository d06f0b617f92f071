#!/usr/bin/env node
// Builds the workspaces: TypeScript to each package's dist/, the embedded database's initial data
// directory (packages/server/dist/pglite-initial.tar.gz), the pages into the server package
// (packages/server/web, which the server serves and `npm pack` ships).
//
//   node scripts/build.mjs             build everything
//   node scripts/build.mjs --if-stale  build only what changed since its last build
//
// `npm start` and `npm run latchkey` use --if-stale, so a start with nothing changed costs a
// stat of the source files instead of a TypeScript and a Vite build. A package is stale when the
// list of its inputs with their sizes and modification times differs from the one recorded by
// its last build (under node_modules/.cache), or when its output is missing.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const vite = join(root, 'node_modules/vite/bin/vite.js');
const shared = ['tsconfig.base.json', 'package-lock.json'];
const pkg = (name, ...more) => [
  `packages/${name}/src`,
  `packages/${name}/package.json`,
  `packages/${name}/tsconfig.json`,
  ...more,
];

// In dependency order; tsc -b also builds a package's project references.
const targets = [
  {
    name: 'contract',
    out: 'packages/contract/dist',
    inputs: pkg('contract'),
    run: [tsc, '-b', 'packages/contract'],
  },
  {
    name: 'sdk',
    out: 'packages/sdk/dist',
    inputs: pkg('sdk', ...pkg('contract')),
    run: [tsc, '-b', 'packages/sdk'],
  },
  {
    name: 'guard',
    out: 'packages/guard/dist',
    inputs: pkg('guard'),
    run: [tsc, '-b', 'packages/guard'],
  },
  {
    name: 'server',
    out: 'packages/server/dist',
    inputs: pkg('server', ...pkg('contract')),
    run: [tsc, '-b', 'packages/server'],
  },
  {
    // The embedded database's initial data directory, made from the built migrations.
    name: 'initial-data-dir',
    out: 'packages/server/dist/pglite-initial.tar.gz',
    inputs: [
      'packages/server/src/store/migrations',
      'packages/server/src/store/migrate.ts',
      'packages/server/src/store/database.ts',
      'packages/server/src/store/initial-data-dir.ts',
      'packages/server/scripts/initial-data-dir.mjs',
    ],
    run: ['packages/server/scripts/initial-data-dir.mjs'],
  },
  {
    name: 'pages',
    out: 'packages/server/web',
    // The pages are built from the SDK's and the contract's sources (Vite aliases).
    inputs: [
      ...pkg('web', 'packages/web/index.html', 'packages/web/vite.config.ts'),
      'packages/sdk/src',
      'packages/contract/src',
    ],
    run: [vite, 'build', '--logLevel', 'warn', 'packages/web'],
  },
];

function files(path, out = []) {
  const full = join(root, path);
  if (!existsSync(full)) return out;
  if (statSync(full).isDirectory()) {
    for (const entry of readdirSync(full).sort()) files(join(path, entry), out);
  } else out.push(path);
  return out;
}

function fingerprint(target) {
  const hash = createHash('sha256');
  for (const file of [...target.inputs, ...shared].flatMap((p) => files(p))) {
    const { size, mtimeMs } = statSync(join(root, file));
    hash.update(`${relative(root, join(root, file))} ${size} ${mtimeMs}\n`);
  }
  return hash.digest('hex');
}

const ifStale = process.argv.includes('--if-stale');
const stamps = join(root, 'node_modules/.cache/latchkey-build');
mkdirSync(stamps, { recursive: true });
for (const target of targets) {
  const stamp = join(stamps, `${target.name}.stamp`);
  const print = fingerprint(target);
  const built = existsSync(join(root, target.out)) && existsSync(stamp);
  if (ifStale && built && readFileSync(stamp, 'utf8') === print) continue;
  const started = performance.now();
  execFileSync(process.execPath, target.run, { cwd: root, stdio: 'inherit' });
  writeFileSync(stamp, print);
  console.error(`built ${target.name} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
