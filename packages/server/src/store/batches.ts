import { type SelectQueryBuilder, sql } from 'kysely';
import type { Database, Queryable } from './schema.js';

/** The tables whose rows have an `id`. */
type TableWithId = {
  [T in keyof Database]: Database[T] extends { id: unknown } ? T : never;
}[keyof Database];

/**
 * Deletes the rows of `table` whose ids `ids(limit)` selects, `batch` at a time, until a batch
 * comes back short: short statements and no long lock, however much there is to purge. Returns
 * the total.
 */
export async function deleteInBatches(
  db: Queryable,
  table: TableWithId,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any source of ids will do
  ids: (limit: number) => SelectQueryBuilder<Database, any, { id: string }>,
  batch: number,
): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await db
      .deleteFrom(table)
      .where(sql.ref('id'), 'in', ids(batch))
      .executeTakeFirst();
    const deleted = Number(result.numDeletedRows);
    total += deleted;
    if (deleted < batch) return total;
  }
}
