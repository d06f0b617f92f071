import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../src/store/database.js';
import { unpackDataDir } from '../../src/store/initial-data-dir.js';
import { migrate, migratedDataDir } from '../../src/store/migrate.js';
import { migrations } from '../../src/store/migrations/index.js';

/** Paths under `dir` that group or others may use. */
function openToOthers(dir: string): string[] {
  const found: string[] = [];
  const walk = (path: string) => {
    const stat = lstatSync(path);
    if ((stat.mode & 0o077) !== 0) found.push(path);
    if (stat.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
  return found;
}

const latest = Math.max(...migrations.map((m) => m.version));

describe('the initial data directory of the embedded database', () => {
  let root: string;
  let archive: string;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'latchkey-initial-'));
    // What the build writes to dist/pglite-initial.tar.gz.
    archive = join(root, 'pglite-initial.tar.gz');
    writeFileSync(archive, Buffer.from(await (await migratedDataDir('gzip')).arrayBuffer()));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('gives an empty DATA_DIR a migrated database that works, kept across a restart', async () => {
    const dataDir = join(root, 'fresh');
    const notices: string[] = [];
    const first = await openPglite({
      dataDir,
      initialDataDir: archive,
      log: (m) => notices.push(m),
    });
    try {
      expect(await migrate(first.db)).toEqual({ applied: [], current: latest });
      const roles = await first.db.selectFrom('roles').select('name').execute();
      expect(roles.map((r) => r.name)).toEqual(['admin']);
      await sql`insert into roles (name, description) values ('editor', 'Edits')`.execute(first.db);
    } finally {
      await first.close();
    }
    expect(notices).toEqual([]);
    expect(existsSync(join(dataDir, 'pglite.partial'))).toBe(false);
    expect(openToOthers(dataDir)).toEqual([]);

    // A later start opens what is there and does not unpack again.
    const again = await openPglite({ dataDir, initialDataDir: join(root, 'absent.tar.gz') });
    try {
      const roles = await again.db.selectFrom('roles').select('name').orderBy('name').execute();
      expect(roles.map((r) => r.name)).toEqual(['admin', 'editor']);
    } finally {
      await again.close();
    }
  }, 60_000);

  it('without its file, a first start says so and runs initdb instead', async () => {
    const dataDir = join(root, 'no-archive');
    const notices: string[] = [];
    const handle = await openPglite({
      dataDir,
      initialDataDir: join(root, 'absent.tar.gz'),
      log: (m) => notices.push(m),
    });
    try {
      expect(notices).toHaveLength(1);
      expect(notices[0]).toMatch(/absent\.tar\.gz could not be used \(ENOENT.*initdb instead/);
      const result = await migrate(handle.db);
      expect(result.applied.map((m) => m.version)).toEqual(migrations.map((m) => m.version));
    } finally {
      await handle.close();
    }
  }, 120_000);

  it('a broken file is refused whole: nothing is left where the database would go', () => {
    /** One ustar entry: its header block, then its data padded to whole blocks. */
    const entry = (name: string, type: string, data = Buffer.alloc(0)) => {
      const header = Buffer.alloc(512);
      header.write(name, 0);
      header.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
      header.write(type, 156);
      header.write('ustar\u000000', 257);
      // The checksum: the header's bytes summed with its own field as spaces.
      header.fill(' ', 148, 156);
      const sum = header.reduce((total, byte) => total + byte, 0);
      header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
      return Buffer.concat([header, data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
    };
    const cases = {
      // Cut short by a full disk or an interrupted copy: gzip's length and CRC catch it.
      'cut.tar.gz': readFileSync(archive).subarray(0, lstatSync(archive).size / 2),
      // A link after a first file: written files are removed again.
      'link.tar.gz': gzipSync(
        Buffer.concat([
          entry('/base', '5'),
          entry('/base/1', '0', Buffer.from('data')),
          entry('/base/2', '2'),
          Buffer.alloc(1024),
        ]),
      ),
      'escape.tar.gz': gzipSync(Buffer.concat([entry('../../outside', '0'), Buffer.alloc(1024)])),
    };
    for (const [name, bytes] of Object.entries(cases)) {
      const file = join(root, name);
      writeFileSync(file, bytes);
      const target = join(root, `${name}.target`);
      expect(() => unpackDataDir(file, target), name).toThrow();
      expect(existsSync(target), name).toBe(false);
      expect(existsSync(`${target}.partial`), name).toBe(false);
    }
    expect(existsSync(join(root, 'outside'))).toBe(false);

    const good = join(root, 'good.tar.gz');
    writeFileSync(good, gzipSync(Buffer.concat([entry('/base/1', '0', Buffer.from('data'))])));
    unpackDataDir(good, join(root, 'good'));
    expect(readFileSync(join(root, 'good/base/1'), 'utf8')).toBe('data');
  });
});
