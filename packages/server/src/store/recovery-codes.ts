import type { QueryCreator } from 'kysely';
import { uuidv7 } from './ids.js';
import type { Database, Queryable } from './schema.js';

/** The user's unused recovery codes, as a sub-query (`secondFactorsOf`). */
export function unusedRecoveryCodesOf(db: QueryCreator<Database>, userId: string) {
  return db
    .selectFrom('mfa_recovery_codes')
    .select('user_id')
    .where('user_id', '=', userId)
    .where('used_at', 'is', null);
}

/** Replaces the user's recovery codes by `hashes` (the old set stops working). */
export async function replaceRecoveryCodes(
  db: Queryable,
  userId: string,
  hashes: string[],
  now: Date,
): Promise<void> {
  await deleteRecoveryCodes(db, userId);
  if (hashes.length === 0) return;
  await db
    .insertInto('mfa_recovery_codes')
    .values(
      hashes.map((code_hash) => ({
        id: uuidv7(now.getTime()),
        user_id: userId,
        code_hash,
        created_at: now,
        used_at: null,
      })),
    )
    .execute();
}

export async function deleteRecoveryCodes(db: Queryable, userId: string): Promise<number> {
  const result = await db
    .deleteFrom('mfa_recovery_codes')
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Spends one unused code of the user; false when it is unknown or used (atomic). */
export async function useRecoveryCode(
  db: Queryable,
  userId: string,
  codeHash: string,
  now: Date,
): Promise<boolean> {
  const result = await db
    .updateTable('mfa_recovery_codes')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('code_hash', '=', codeHash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function countUnusedRecoveryCodes(db: Queryable, userId: string): Promise<number> {
  const row = await db
    .selectFrom('mfa_recovery_codes')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
