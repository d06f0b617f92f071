import type { QueryCreator, Selectable } from 'kysely';
import type { Database, MfaTotpTable, Queryable } from './schema.js';

export type TotpRow = Selectable<MfaTotpTable>;

export function findTotp(db: Queryable, userId: string): Promise<TotpRow | undefined> {
  return db.selectFrom('mfa_totp').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

/** The user's confirmed TOTP secret, as a sub-query (`secondFactorsOf`). */
export function confirmedTotpOf(db: QueryCreator<Database>, userId: string) {
  return db
    .selectFrom('mfa_totp')
    .select('user_id')
    .where('user_id', '=', userId)
    .where('confirmed_at', 'is not', null);
}

/** A new, unconfirmed secret; replaces an earlier unconfirmed one, never a confirmed one. */
export async function saveUnconfirmedTotp(
  db: Queryable,
  row: { userId: string; secretEncrypted: string; now: Date },
): Promise<boolean> {
  const result = await db
    .insertInto('mfa_totp')
    .values({
      user_id: row.userId,
      secret_encrypted: row.secretEncrypted,
      created_at: row.now,
      confirmed_at: null,
      last_used_step: null,
    })
    .onConflict((oc) =>
      oc
        .column('user_id')
        .doUpdateSet({ secret_encrypted: row.secretEncrypted, created_at: row.now })
        .where('mfa_totp.confirmed_at', 'is', null),
    )
    .executeTakeFirst();
  return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
}

/**
 * Spends time step `step` of the user's secret: true only when it is newer than every step
 * accepted before (one atomic update, so two requests with one code cannot both pass).
 * `confirm` also activates an unconfirmed secret.
 */
export async function useTotpStep(
  db: Queryable,
  userId: string,
  step: number,
  options: { confirmAt?: Date } = {},
): Promise<boolean> {
  let query = db
    .updateTable('mfa_totp')
    .set({
      last_used_step: step,
      ...(options.confirmAt ? { confirmed_at: options.confirmAt } : {}),
    })
    .where('user_id', '=', userId)
    .where((eb) => eb.or([eb('last_used_step', 'is', null), eb('last_used_step', '<', step)]));
  query = options.confirmAt
    ? query.where('confirmed_at', 'is', null)
    : query.where('confirmed_at', 'is not', null);
  const result = await query.executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function deleteTotp(db: Queryable, userId: string): Promise<boolean> {
  const result = await db.deleteFrom('mfa_totp').where('user_id', '=', userId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
