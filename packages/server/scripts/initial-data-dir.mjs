// Writes the embedded database's initial data directory (dist/pglite-initial.tar.gz): a migrated
// PGlite data directory that a first start loads instead of running initdb. Run by
// scripts/build.mjs after the server's TypeScript build.
import { renameSync, writeFileSync } from 'node:fs';
import { INITIAL_DATA_DIR } from '../dist/store/initial-data-dir.js';
import { migratedDataDir } from '../dist/store/migrate.js';

const dump = await migratedDataDir('gzip');
// Written whole, then renamed: a build stopped half-way leaves no truncated file to load.
const partial = `${INITIAL_DATA_DIR}.partial`;
writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
renameSync(partial, INITIAL_DATA_DIR);
