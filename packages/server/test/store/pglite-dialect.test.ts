import { PGlite } from '@electric-sql/pglite';
import { Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgliteDialect, pgliteParsers } from '../../src/store/pglite-dialect.js';

describe('Kysely on PGlite (the embedded database)', () => {
  let pglite: PGlite;
  let db: Kysely<Record<string, never>>;
  beforeAll(async () => {
    pglite = await PGlite.create({ parsers: pgliteParsers });
    db = new Kysely({ dialect: new PgliteDialect(pglite, 300) });
  });
  afterAll(() => pglite.close());

  it("answers with node-postgres's types", async () => {
    const { rows } = await sql<{
      big: unknown;
      at: unknown;
      doc: unknown;
      list: unknown;
    }>`select 9007199254740993::int8 as big, now() as at, '{"a":1}'::jsonb as doc, array['x','y'] as list`.execute(
      db,
    );
    expect(rows[0]).toEqual({
      big: '9007199254740993',
      at: expect.any(Date),
      doc: { a: 1 },
      list: ['x', 'y'],
    });
  });

  it('keeps a transaction to itself: other queries wait for its end', async () => {
    await sql`create table t (n int)`.execute(db);
    const order: string[] = [];
    const tx = db.transaction().execute(async (trx) => {
      await sql`insert into t values (1)`.execute(trx);
      await new Promise((resolve) => setTimeout(resolve, 50));
      order.push('transaction');
      throw new Error('roll back');
    });
    const outside = sql<{ n: number }>`select count(*)::int as n from t`.execute(db).then((r) => {
      order.push('outside');
      return r.rows[0]?.n;
    });
    await expect(tx).rejects.toThrow('roll back');
    // The outside query did not see (or get mixed into) the rolled-back insert.
    expect(await outside).toBe(0);
    expect(order).toEqual(['transaction', 'outside']);
  });

  it('fails a query that waits too long for the session, and goes on serving', async () => {
    const held = db.transaction().execute(async () => {
      await new Promise((resolve) => setTimeout(resolve, 600));
    });
    await expect(sql`select 1`.execute(db)).rejects.toThrow(/Waited 0.3 s/);
    await held;
    const { rows } = await sql<{ one: number }>`select 1 as one`.execute(db);
    expect(rows).toEqual([{ one: 1 }]);
  });
});
