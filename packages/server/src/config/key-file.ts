import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { secureDataDir } from '../store/data-dir.js';

export const KEY_FILE_NAME = 'key-encryption.key';

/**
 * The secret that encrypts the signing keys at rest: KEY_ENCRYPTION_SECRET when set; otherwise
 * (the embedded default) 32 random bytes generated once into `DATA_DIR/key-encryption.key` with
 * mode 0600 and read on later starts. Loading config refuses production + DATABASE_URL without
 * the variable, since instances sharing a database cannot share a local file.
 */
export function resolveKeyEncryptionSecret(config: {
  jwt: { keyEncryptionSecret: string | undefined };
  dataDir: string;
}): { secret: string; source: 'env' | 'generated' | 'file'; path?: string } {
  if (config.jwt.keyEncryptionSecret) {
    return { secret: config.jwt.keyEncryptionSecret, source: 'env' };
  }
  const path = join(config.dataDir, KEY_FILE_NAME);
  secureDataDir(config.dataDir);
  try {
    writeFileSync(path, `${randomBytes(32).toString('base64url')}\n`, { flag: 'wx', mode: 0o600 });
    chmodSync(path, 0o600); // the umask may have narrowed, never widened, but be exact
    return { secret: readSecret(path), source: 'generated', path };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  return { secret: readSecret(path), source: 'file', path };
}

function readSecret(path: string): string {
  const secret = readFileSync(path, 'utf8').trim();
  if (secret.length < 32) throw new Error(`${path} does not hold a key-encryption secret`);
  return secret;
}
