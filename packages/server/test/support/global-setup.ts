import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { migratedDataDir } from '../../src/store/migrate.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteSnapshotPath: string;
  }
}

/**
 * Builds the contract (incremental: next to nothing when it is up to date): the hashing threads
 * run plain JavaScript (core/hash-worker.js) outside vitest and load the password rules from
 * its dist. Then initialises and migrates PGlite once per run and dumps its data directory;
 * every test file then starts its own database from this snapshot (~0.5 s) instead of an
 * initdb (~3 s).
 */
export default async function setup(project: TestProject) {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const root = new URL('../../../../', import.meta.url);
  execFileSync(process.execPath, [tsc, '-b', 'packages/contract'], { cwd: root, stdio: 'inherit' });
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-test-'));
  const dump = await migratedDataDir('none');
  const path = join(dir, 'snapshot.tar');
  writeFileSync(path, Buffer.from(await dump.arrayBuffer()));
  project.provide('pgliteSnapshotPath', path);
  return () => rmSync(dir, { recursive: true, force: true });
}
