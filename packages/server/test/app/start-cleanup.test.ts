import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createLatchkey } from '../../src/app/latchkey.js';
import { type Config, ConfigError, loadConfig } from '../../src/config/config.js';
import { KEY_FILE_NAME } from '../../src/config/key-file.js';

const SECRET = 'test-key-encryption-secret-0123456789abcdef';
const WRONG_SECRET = 'another-key-encryption-secret-0123456789ab';

/**
 * A start that fails after it opened its own database must close it: here a
 * KEY_ENCRYPTION_SECRET that does not open the stored signing keys, found after the migrations.
 */
async function refusedStart(config: (secret: string) => Config) {
  const first = await createLatchkey(config(SECRET), { startRetention: false });
  await first.close();
  const error = await createLatchkey(config(WRONG_SECRET), { startRetention: false }).then(
    async (started) => {
      await started.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
}

/** File descriptors of this process open on something under `dir`. */
function openFilesUnder(dir: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir);
    } catch {
      return false; // closed meanwhile
    }
  }).length;
}

describe('a start that fails part-way', () => {
  it.runIf(process.platform === 'linux')(
    'closes the embedded database it opened (no file left open in DATA_DIR)',
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-start-'));
      try {
        const config = loadConfig({ NODE_ENV: 'development', DATA_DIR: dataDir });
        // The check can see an open database: a running instance holds files there.
        const running = await createLatchkey(config, { startRetention: false });
        expect(openFilesUnder(dataDir)).toBeGreaterThan(0);
        await running.close();
        expect(openFilesUnder(dataDir)).toBe(0);

        // A damaged key file is read after the database is open and migrated.
        writeFileSync(join(dataDir, KEY_FILE_NAME), 'too short\n', { mode: 0o600 });
        await expect(createLatchkey(config, { startRetention: false })).rejects.toThrow(
          /does not hold a key-encryption secret/,
        );
        expect(openFilesUnder(dataDir)).toBe(0);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
    120_000,
  );

  it.runIf(process.env.TEST_DATABASE_URL)(
    'closes the PostgreSQL pool it opened (no connection left to the database)',
    async () => {
      const adminUrl = process.env.TEST_DATABASE_URL as string;
      const name = `latchkey_test_${randomBytes(6).toString('hex')}`;
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      const connections = async () => {
        const result = await admin.query<{ count: string }>(
          'select count(*) from pg_stat_activity where datname = $1',
          [name],
        );
        return Number(result.rows[0]?.count);
      };
      try {
        await admin.query(`create database ${name}`);
        const url = new URL(adminUrl);
        url.pathname = `/${name}`;
        const config = (secret: string) =>
          loadConfig({
            NODE_ENV: 'development',
            DATABASE_URL: url.toString(),
            KEY_ENCRYPTION_SECRET: secret,
          });
        const running = await createLatchkey(config(SECRET), { startRetention: false });
        expect(await connections()).toBeGreaterThan(0);
        await running.close();

        await refusedStart(config);
        await expect.poll(connections, { timeout: 5000 }).toBe(0);
      } finally {
        await admin.query(`drop database if exists ${name} with (force)`);
        await admin.end();
      }
    },
    120_000,
  );
});
