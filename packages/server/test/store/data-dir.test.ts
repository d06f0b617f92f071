import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { KEY_FILE_NAME } from '../../src/config/key-file.js';
import { createLatchkey } from '../../src/app/latchkey.js';
import { DataDirError, secureDataDir } from '../../src/store/data-dir.js';

/** Every path under `dir` (itself included) with its permission bits. */
function modes(dir: string): Map<string, number> {
  const found = new Map<string, number>();
  const walk = (path: string) => {
    const stat = lstatSync(path);
    found.set(path, stat.mode & 0o777);
    if (stat.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
  return found;
}

/** The paths that someone other than the owner may read, write or enter. */
const openToOthers = (dir: string) =>
  [...modes(dir)]
    .filter(([, mode]) => (mode & 0o077) !== 0)
    .map(([path, mode]) => `${mode.toString(8)} ${path}`);

/** The embedded default, as `latchkey start` builds it (key file generated into DATA_DIR). */
async function startEmbedded(dataDir: string) {
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATA_DIR: dataDir });
  return createLatchkey(config, { startMailWorker: false, startRetention: false });
}

describe('DATA_DIR of the embedded database', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'latchkey-datadir-'));
    chmodSync(root, 0o755);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('is created 0700 with nothing in it open to group or others, key file included', async () => {
    const dataDir = join(root, 'fresh');
    const latchkey = await startEmbedded(dataDir);
    try {
      expect(lstatSync(dataDir).mode & 0o777).toBe(0o700);
      expect(lstatSync(join(dataDir, KEY_FILE_NAME)).mode & 0o777).toBe(0o600);
      expect(modes(dataDir).size).toBeGreaterThan(100);
      expect(openToOthers(dataDir)).toEqual([]);
    } finally {
      await latchkey.close();
    }
    expect(openToOthers(dataDir)).toEqual([]);
  }, 60_000);

  it('tightens a DATA_DIR that was left world-readable and world-writable', async () => {
    const dataDir = join(root, 'fresh');
    for (const [path] of modes(dataDir)) {
      chmodSync(path, lstatSync(path).isDirectory() ? 0o777 : 0o666);
    }
    expect(openToOthers(dataDir).length).toBeGreaterThan(100);
    const latchkey = await startEmbedded(dataDir);
    try {
      expect(openToOthers(dataDir)).toEqual([]);
    } finally {
      await latchkey.close();
    }
  }, 60_000);

  it('refuses a DATA_DIR owned by another user, with the command that fixes it', () => {
    const dataDir = join(root, 'foreign');
    mkdirSync(dataDir, { mode: 0o755 });
    const owner = lstatSync(dataDir).uid;
    // As seen by a process of another uid than the directory's owner.
    const other = owner + 1;
    expect(() => secureDataDir(dataDir, other)).toThrow(DataDirError);
    expect(() => secureDataDir(dataDir, other)).toThrow(
      new RegExp(
        `${dataDir} is owned by uid ${owner}, not by this process \\(uid ${other}\\).*chown -R ${other} ${dataDir}`,
      ),
    );
    expect(lstatSync(dataDir).mode & 0o777).toBe(0o755);
  });
});
