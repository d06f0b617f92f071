import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { extract } from 'tar';

/**
 * A migrated PGlite data directory (gzipped tar) made by the build (scripts/build.mjs), unpacked
 * into an empty DATA_DIR instead of running initdb: initdb inside WASM runs three PostgreSQL
 * instances at once and took the process to 750-800 MB RSS. PGlite's own `loadDataDir` is not
 * used: it unpacks through JavaScript copies of every file, which left a first start 100 MB
 * above a later one.
 */
export const INITIAL_DATA_DIR = fileURLToPath(new URL('../pglite-initial.tar.gz', import.meta.url));

/**
 * Unpacks `archive` (PGlite's dumpDataDir, gzipped: a tar of directories and plain files) as
 * the directory `target`. It is written beside `target` and renamed into place, so that a start
 * stopped half-way leaves nothing that PGlite would take for a database.
 */
export function unpackDataDir(archive: string, target: string): void {
  const partial = `${target}.partial`;
  rmSync(partial, { recursive: true, force: true });
  try {
    mkdirSync(partial, { mode: 0o700 });
    // PGlite writes paths from the root of its data directory ("/base/1/…"); taking them as
    // relative is expected. Any other warning (a bad checksum, a cut archive, a path with "..")
    // refuses the whole file.
    const problems: string[] = [];
    extract({
      file: archive,
      cwd: partial,
      sync: true,
      umask: 0o077,
      onwarn: (code, message) => {
        if (code !== 'TAR_ENTRY_INFO') problems.push(`${code}: ${String(message)}`);
      },
      filter: (path, entry) => {
        const plain = 'type' in entry && (entry.type === 'File' || entry.type === 'Directory');
        if (!plain) problems.push(`${path} is neither a file nor a directory`);
        return plain;
      },
    });
    if (problems.length > 0) throw new Error(`${archive}: ${problems[0]}`);
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    throw error;
  }
  renameSync(partial, target);
}
