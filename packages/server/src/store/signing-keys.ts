import { sql } from 'kysely';
import type { Queryable, SigningKeysTable } from './schema.js';
import type { Selectable } from 'kysely';

export type SigningKeyRow = Selectable<SigningKeysTable>;

// Shared by every instance: one key creation or rotation at a time per database.
const KEY_LOCK_ID = 0x4c4b_0003;

/** Takes the transaction-scoped advisory lock that serialises key creation and rotation. */
export async function lockSigningKeys(trx: Queryable): Promise<void> {
  await sql`select pg_advisory_xact_lock(${KEY_LOCK_ID})`.execute(trx);
}

export async function findCurrentSigningKey(db: Queryable): Promise<SigningKeyRow | undefined> {
  return db
    .selectFrom('signing_keys')
    .selectAll()
    .where('retired_at', 'is', null)
    .executeTakeFirst();
}

/** The current key and the keys retired after `retiredAfter` (their tokens may still be live). */
export async function listPublishedSigningKeys(
  db: Queryable,
  retiredAfter: Date,
): Promise<SigningKeyRow[]> {
  return db
    .selectFrom('signing_keys')
    .selectAll()
    .where((eb) => eb.or([eb('retired_at', 'is', null), eb('retired_at', '>', retiredAfter)]))
    .orderBy('created_at', 'desc')
    .execute();
}

export async function retireCurrentSigningKey(db: Queryable, now: Date): Promise<void> {
  await db
    .updateTable('signing_keys')
    .set({ retired_at: now })
    .where('retired_at', 'is', null)
    .execute();
}

export async function insertSigningKey(db: Queryable, key: SigningKeyRow): Promise<void> {
  await db.insertInto('signing_keys').values(key).execute();
}
