import type { Insertable, QueryCreator, Selectable } from 'kysely';
import type { Database, PasskeysTable, Queryable } from './schema.js';

export type PasskeyRow = Selectable<PasskeysTable>;

/** The user's passkeys, as a sub-query (`secondFactorsOf`). */
export function passkeysOf(db: QueryCreator<Database>, userId: string) {
  return db.selectFrom('passkeys').select('id').where('user_id', '=', userId);
}

export function listPasskeys(db: Queryable, userId: string): Promise<PasskeyRow[]> {
  return db
    .selectFrom('passkeys')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

export function findPasskeyByCredentialId(
  db: Queryable,
  credentialId: string,
): Promise<PasskeyRow | undefined> {
  return db
    .selectFrom('passkeys')
    .selectAll()
    .where('credential_id', '=', credentialId)
    .executeTakeFirst();
}

/** The user's passkey `id`; undefined for another user's or an unknown one. */
export function findPasskeyOf(
  db: Queryable,
  userId: string,
  id: string,
): Promise<PasskeyRow | undefined> {
  return db
    .selectFrom('passkeys')
    .selectAll()
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .executeTakeFirst();
}

export async function insertPasskey(db: Queryable, row: Insertable<PasskeysTable>): Promise<void> {
  await db.insertInto('passkeys').values(row).execute();
}

export async function renamePasskey(
  db: Queryable,
  userId: string,
  id: string,
  name: string,
): Promise<PasskeyRow | undefined> {
  return db
    .updateTable('passkeys')
    .set({ name })
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .returningAll()
    .executeTakeFirst();
}

/** After an assertion: the new signature counter and the time of use. */
export async function recordPasskeyUse(
  db: Queryable,
  id: string,
  counter: number,
  now: Date,
): Promise<void> {
  await db
    .updateTable('passkeys')
    .set({ counter, last_used_at: now })
    .where('id', '=', id)
    .execute();
}

export async function deletePasskey(db: Queryable, userId: string, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('passkeys')
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function deleteUserPasskeys(db: Queryable, userId: string): Promise<number> {
  const result = await db.deleteFrom('passkeys').where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows);
}
