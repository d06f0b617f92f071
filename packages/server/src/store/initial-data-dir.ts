import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

/**
 * A migrated PGlite data directory (gzipped tar) made by the build (scripts/build.mjs), unpacked
 * into an empty DATA_DIR instead of running initdb: initdb inside WASM runs three PostgreSQL
 * instances at once and took the process to 750-800 MB RSS. PGlite's own `loadDataDir` is not
 * used: it unpacks through JavaScript copies of every file, which left a first start 100 MB
 * above a later one.
 */
export const INITIAL_DATA_DIR = fileURLToPath(new URL('../pglite-initial.tar.gz', import.meta.url));

const BLOCK = 512;

/**
 * Unpacks `archive` (PGlite's dumpDataDir, gzipped: a ustar of directories and plain files) as
 * the directory `target`. It is written beside `target` and renamed into place, so that a start
 * stopped half-way leaves nothing that PGlite would take for a database.
 */
export function unpackDataDir(archive: string, target: string): void {
  const tar = gunzipSync(readFileSync(archive));
  const partial = `${target}.partial`;
  rmSync(partial, { recursive: true, force: true });
  try {
    mkdirSync(partial, { mode: 0o700 });
    for (let offset = 0; offset + BLOCK <= tar.length;) {
      const header = tar.subarray(offset, offset + BLOCK);
      if (header.every((byte) => byte === 0)) break; // the end-of-archive blocks
      const field = (start: number, length: number) =>
        header.toString('latin1', start, start + length).replace(/\0.*$/s, '');
      const prefix = field(345, 155);
      const name = normalize(`${prefix ? `${prefix}/` : ''}${field(0, 100)}`).replace(/^\/+/, '');
      const size = Number.parseInt(field(124, 12).trim() || '0', 8);
      const type = field(156, 1) || '0';
      if (name.startsWith('..') || !Number.isSafeInteger(size)) {
        throw new Error(`${archive}: bad entry ${JSON.stringify(name)}`);
      }
      const path = join(partial, name);
      if (type === '5') {
        mkdirSync(path, { recursive: true, mode: 0o700 });
      } else if (type === '0') {
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        const data = tar.subarray(offset + BLOCK, offset + BLOCK + size);
        if (data.length !== size) throw new Error(`${archive}: ${name} is cut short`);
        writeFileSync(path, data, { mode: 0o600 });
      } else {
        throw new Error(`${archive}: ${name} is neither a file nor a directory (type ${type})`);
      }
      offset += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    }
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    throw error;
  }
  renameSync(partial, target);
}
