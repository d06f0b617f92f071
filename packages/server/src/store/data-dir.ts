import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** DATA_DIR cannot be made private to this process; the message says what to run. */
export class DataDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataDirError';
  }
}

/**
 * Makes DATA_DIR this user's alone: the directory and every directory in it 0700, every file
 * 0600. It holds password hashes (the WAL), queued mail with live links and the key-encryption
 * secret. PGlite creates its files 0666 whatever the umask, so this runs at open, after the
 * schema is migrated and at close; in between, the 0700 directory keeps others out of files
 * PGlite adds. A directory owned by another user is refused rather than changed.
 */
export function secureDataDir(dir: string, uid = process.getuid?.()): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const owner = lstatSync(dir).uid;
  if (uid !== undefined && owner !== uid) {
    throw new DataDirError(
      `DATA_DIR ${dir} is owned by uid ${owner}, not by this process (uid ${uid}): it holds password hashes and secrets, which must be this user's alone. Run Latchkey as its owner, or give it to this user: chown -R ${uid} ${dir} && chmod -R go-rwx ${dir}`,
    );
  }
  try {
    tighten(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'EACCES') throw error;
    throw new DataDirError(
      `DATA_DIR ${dir} could not be made private (${(error as Error).message}). Run: chown -R ${uid ?? '$(id -u)'} ${dir} && chmod -R go-rwx ${dir}`,
    );
  }
}

function tighten(path: string): void {
  const stat = lstatSync(path);
  // A link is not followed: what it points to is not ours to change.
  if (stat.isSymbolicLink()) return;
  if (stat.isDirectory()) {
    if ((stat.mode & 0o077) !== 0) chmodSync(path, 0o700);
    for (const name of readdirSync(path)) tighten(join(path, name));
  } else if ((stat.mode & 0o077) !== 0) {
    chmodSync(path, 0o600);
  }
}
