import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/store/ids.js';
import { type DatabaseHandle, openPostgres } from '../../src/store/database.js';
import { migrate } from '../../src/store/migrate.js';
import { type Migration, migrations } from '../../src/store/migrations/index.js';
import { backends, createPostgresDatabase, createTestDatabase } from '../support/db.js';

describe.each(backends)('migrations on %s', (backend) => {
  let handle: DatabaseHandle;
  beforeAll(async () => {
    handle = await createTestDatabase(backend);
  });
  afterAll(() => handle.close());

  it('records every migration with its applied_at', async () => {
    const rows = await handle.db
      .selectFrom('schema_migrations')
      .selectAll()
      .orderBy('version')
      .execute();
    expect(rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
    for (const row of rows) expect(row.applied_at).toBeInstanceOf(Date);
  });

  it('is a no-op when run again, even by several callers at once', async () => {
    const results = await Promise.all([migrate(handle.db), migrate(handle.db), migrate(handle.db)]);
    for (const result of results) expect(result.applied).toEqual([]);
  });

  it('refuses a second account whose email differs only in case', async () => {
    const now = new Date();
    const user = (email: string) => ({
      id: uuidv7(),
      email,
      password_hash: null,
      password_changed_at: now,
      created_at: now,
      updated_at: now,
    });
    await handle.db.insertInto('users').values(user('Case@Example.com')).execute();
    await expect(
      handle.db.insertInto('users').values(user('case@EXAMPLE.com')).execute(),
    ).rejects.toThrow(/unique/i);
    const found = await handle.db
      .selectFrom('users')
      .select('email')
      .where(sql`lower(email)`, '=', 'case@example.com')
      .execute();
    expect(found).toHaveLength(1);
  });
});

describe.runIf(backends.includes('postgres'))('migrations and the statement bounds', () => {
  it('run past the statement timeout that bounds every other query', async () => {
    const created = await createPostgresDatabase('latchkey_migrate_bound');
    const handle = openPostgres(created.url, {
      timeouts: { statementTimeoutMs: 100, poolTimeoutMs: 3000 },
    });
    try {
      const slow: Migration = {
        version: 9001,
        name: 'slow',
        up: async (db) => {
          await sql`select pg_sleep(0.3)`.execute(db);
        },
      };
      const result = await migrate(handle.db, { migrations: [...migrations, slow] });
      expect(result.applied.map((m) => m.name)).toContain('slow');
      // The same statement on a request's connection is cancelled by the server.
      await expect(sql`select pg_sleep(0.3)`.execute(handle.db)).rejects.toThrow(/timeout/i);
      // The unbounded connection was not returned to the pool.
      const setting = await sql<{
        statement_timeout: string;
      }>`show statement_timeout`.execute(handle.db);
      expect(setting.rows[0]?.statement_timeout).toBe('100ms');
    } finally {
      await handle.close();
      await created.drop();
    }
  });
});
