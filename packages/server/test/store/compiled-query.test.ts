import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compiledOnce } from '../../src/store/compiled-query.js';
import type { DatabaseHandle } from '../../src/store/database.js';
import { uuidv7 } from '../../src/store/ids.js';
import { backends, createTestDatabase } from '../support/db.js';

describe.each(backends)('compiledOnce on %s', (backend) => {
  let database: DatabaseHandle;
  beforeAll(async () => {
    database = await createTestDatabase(backend);
    const now = new Date('2026-01-01T00:00:00Z');
    await database.db
      .insertInto('users')
      .values(
        ['a', 'b', 'c'].map((name, i) => ({
          id: uuidv7(now.getTime() + i),
          email: `${name}@example.com`,
          name,
          password_hash: null,
          email_verified_at: i === 1 ? null : now,
          disabled_at: null,
          password_changed_at: now,
          created_at: new Date(now.getTime() + i * 1000),
          updated_at: now,
        })),
      )
      .execute();
  });
  afterAll(() => database.close());

  const usersCreatedAfter = compiledOnce((db, v: { after: Date; domain: string }) =>
    db
      .selectFrom('users')
      .select(['name', 'email'])
      .where('created_at', '>', v.after)
      .where('email', 'like', v.domain)
      .where('email_verified_at', 'is not', null) // a constant part of the statement
      .orderBy('created_at'),
  );

  it('answers as the same builder run directly, with new values on every run', async () => {
    const direct = (after: Date) =>
      database.db
        .selectFrom('users')
        .select(['name', 'email'])
        .where('created_at', '>', after)
        .where('email', 'like', '%@example.com')
        .where('email_verified_at', 'is not', null)
        .orderBy('created_at')
        .execute();
    for (const after of ['2025-12-31T00:00:00Z', '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z']) {
      const compiled = await usersCreatedAfter(database.db, {
        after: new Date(after),
        domain: '%@example.com',
      });
      expect(compiled.rows).toEqual(await direct(new Date(after)));
    }
    const none = await usersCreatedAfter(database.db, {
      after: new Date('2025-01-01T00:00:00Z'),
      domain: '%@example.org',
    });
    expect(none.rows).toEqual([]);
  });

  it('runs inside a transaction', async () => {
    const rows = await database.db.transaction().execute(async (trx) => {
      const result = await usersCreatedAfter(trx, {
        after: new Date('2025-01-01T00:00:00Z'),
        domain: 'c@%',
      });
      return result.rows;
    });
    expect(rows).toEqual([{ name: 'c', email: 'c@example.com' }]);
  });

  it('refuses a statement that writes a value into its SQL text', async () => {
    const inlined = compiledOnce((db, v: { name: string }) =>
      db.selectFrom('users').select('email').where('name', '=', sql.lit(v.name)),
    );
    await expect(inlined(database.db, { name: 'a' })).rejects.toThrow(/into the SQL text/);
  });
});
