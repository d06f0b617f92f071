import type { EmailTokenPurpose, EmailTokenRow, NewUser, Queryable } from './schema.js';

/**
 * Repositories of the account flows (reset, password/email change, devices, import). Sessions
 * are revoked only through store/sessions.ts (`revokeSession`, `revokeUserSessions`), which
 * other parts (session cache, refresh-token families) hook onto.
 */

/** Locks the user's row until the transaction ends (serialises token issuing per user). */
export async function lockUser(db: Queryable, userId: string): Promise<void> {
  await db.selectFrom('users').select('id').where('id', '=', userId).forUpdate().execute();
}

/** A live (unused, unexpired) token by hash, without consuming it. */
export function findLiveEmailToken(
  db: Queryable,
  tokenHash: string,
  purpose: EmailTokenPurpose,
  now: Date,
): Promise<EmailTokenRow | undefined> {
  return db
    .selectFrom('email_tokens')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

/** Deletes a user's unused tokens of the given purposes (a password change voids them). */
export async function voidEmailTokens(
  db: Queryable,
  userId: string,
  purposes: EmailTokenPurpose[],
): Promise<number> {
  const result = await db
    .deleteFrom('email_tokens')
    .where('user_id', '=', userId)
    .where('purpose', 'in', purposes)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** True when `sessionId` is a live session of `userId` (and not someone else's). */
export async function isLiveSessionOf(
  db: Queryable,
  userId: string,
  sessionId: string,
  now: Date,
): Promise<boolean> {
  const row = await db
    .selectFrom('sessions')
    .select('id')
    .where('id', '=', sessionId)
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('idle_expires_at', '>', now)
    .where('absolute_expires_at', '>', now)
    .executeTakeFirst();
  return row !== undefined;
}

/** Inserts a user unless one with the same email (case-insensitively) exists; true if inserted. */
export async function insertUserIfAbsent(db: Queryable, user: NewUser): Promise<boolean> {
  const row = await db
    .insertInto('users')
    .values(user)
    .onConflict((oc) => oc.doNothing())
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}
