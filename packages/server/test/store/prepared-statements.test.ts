import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../src/store/database.js';
import { createTestDatabase } from '../support/db.js';

// PGlite plans in WASM on the event loop: statements that come back run prepared.
describe('prepared statements on PGlite', () => {
  let handle: DatabaseHandle;
  beforeAll(async () => {
    handle = await createTestDatabase('pglite');
    await sql`create table prepared_probe (id integer primary key, label text)`.execute(handle.db);
    await sql`insert into prepared_probe values (1, 'one'), (2, 'two')`.execute(handle.db);
  });
  afterAll(() => handle.close());

  const prepared = async () =>
    (
      await sql<{
        statement: string;
      }>`select statement from pg_prepared_statements`.execute(handle.db)
    ).rows.map((r) => r.statement);

  const byId = (id: number) =>
    handle.db
      .selectFrom('prepared_probe' as never)
      .selectAll()
      .where('id' as never, '=', id as never);

  it('prepares a statement the second time it runs, and answers the same', async () => {
    const text = byId(1).compile().sql;
    expect(await byId(1).execute()).toEqual([{ id: 1, label: 'one' }]);
    expect(await prepared()).not.toContain(text);
    expect(await byId(2).execute()).toEqual([{ id: 2, label: 'two' }]);
    expect(await prepared()).toContain(text);
    expect(await byId(1).execute()).toEqual([{ id: 1, label: 'one' }]);
  });

  it('never prepares a one-off or a schema statement', async () => {
    await sql`create index prepared_probe_label on prepared_probe (label)`.execute(handle.db);
    await sql`create index prepared_probe_label2 on prepared_probe (label, id)`.execute(handle.db);
    expect((await prepared()).some((s) => /create index/i.test(s))).toBe(false);
  });

  it('recovers when a schema change invalidates a prepared plan', async () => {
    await byId(1).execute();
    await byId(1).execute();
    await sql`alter table prepared_probe add column extra text`.execute(handle.db);
    // The cached plan's result type changed: that one call fails, and the next prepares anew.
    await expect(byId(1).execute()).rejects.toMatchObject({ code: '0A000' });
    expect(await byId(1).execute()).toEqual([{ id: 1, label: 'one', extra: null }]);
  });
});
