import { type QueryCreator, sql } from 'kysely';
import type { Database, EmailTokenPurpose, EmailTokenRow, Queryable } from './schema.js';

export interface NewEmailToken {
  id: string;
  userId: string;
  purpose: EmailTokenPurpose;
  tokenHash: string;
  newEmail?: string | null;
  /** A sign-up's password hash and name, activated when this verify_email link is followed. */
  passwordHash?: string | null;
  name?: string | null;
  now: Date;
  expiresAt: Date;
}

/** Stores a new token (by hash) beside the user's other tokens. */
export async function insertEmailToken(db: Queryable, token: NewEmailToken): Promise<void> {
  await db.insertInto('email_tokens').values(emailTokenRow(token)).execute();
}

/** The row of a new token (for statements that write it along with something else). */
export function emailTokenRow(token: NewEmailToken) {
  return {
    id: token.id,
    user_id: token.userId,
    purpose: token.purpose,
    token_hash: token.tokenHash,
    new_email: token.newEmail ?? null,
    password_hash: token.passwordHash ?? null,
    name: token.name ?? null,
    created_at: token.now,
    expires_at: token.expiresAt,
  };
}

/**
 * Stores a new token (by hash) and voids the user's older unused tokens of the same purpose,
 * so only the newest link works.
 */
export async function replaceEmailToken(db: Queryable, token: NewEmailToken): Promise<void> {
  await db
    .deleteFrom('email_tokens')
    .where('user_id', '=', token.userId)
    .where('purpose', '=', token.purpose)
    .where('used_at', 'is', null)
    .execute();
  await insertEmailToken(db, token);
}

/** A user's unused verification tokens (one per sign-up attempt), newest first. */
export function unusedVerifyTokens(
  db: Queryable,
  userId: string,
): Promise<Pick<EmailTokenRow, 'id' | 'password_hash' | 'name' | 'expires_at'>[]> {
  return db
    .selectFrom('email_tokens')
    .select(['id', 'password_hash', 'name', 'expires_at'])
    .where('user_id', '=', userId)
    .where('purpose', '=', 'verify_email')
    .where('used_at', 'is', null)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
}

/**
 * The password hashes of a user's sign-ups whose links still work at `now`, newest first, as a
 * column of a query over users (`users.id`).
 */
export function pendingSignupHashesOf(db: QueryCreator<Database>, now: Date) {
  const hashes = db
    .selectFrom('email_tokens')
    .select('password_hash')
    .whereRef('email_tokens.user_id', '=', sql.ref('users.id'))
    .where('purpose', '=', 'verify_email')
    .where('used_at', 'is', null)
    .where('password_hash', 'is not', null)
    .where('expires_at', '>', now)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc');
  return sql<string[]>`array(${hashes})`;
}

/** Gives an unused token a new hash and expiry: its old link stops working, what it carries stays. */
export async function renewEmailToken(
  db: Queryable,
  id: string,
  tokenHash: string,
  expiresAt: Date,
): Promise<void> {
  await db
    .updateTable('email_tokens')
    .set({ token_hash: tokenHash, expires_at: expiresAt })
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .execute();
}

/** Erases the password a used sign-up link carried: the user row holds it from now on. */
export async function clearSignupPassword(db: Queryable, id: string): Promise<void> {
  await db.updateTable('email_tokens').set({ password_hash: null }).where('id', '=', id).execute();
}

/** A live token, left unused: what following it would need is decided before it is spent. */
export function findLiveEmailToken(
  db: Queryable,
  tokenHash: string,
  purposes: EmailTokenPurpose[],
  now: Date,
): Promise<Pick<EmailTokenRow, 'id' | 'user_id' | 'password_hash'> | undefined> {
  return db
    .selectFrom('email_tokens')
    .select(['id', 'user_id', 'password_hash'])
    .where('token_hash', '=', tokenHash)
    .where('purpose', 'in', purposes)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

/**
 * Marks a live token used and returns it, in one statement: of two requests racing with the
 * same token, exactly one gets the row.
 */
export function consumeEmailToken(
  db: Queryable,
  tokenHash: string,
  purposes: EmailTokenPurpose[],
  now: Date,
): Promise<EmailTokenRow | undefined> {
  return db
    .updateTable('email_tokens')
    .set({ used_at: now })
    .where('token_hash', '=', tokenHash)
    .where('purpose', 'in', purposes)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returningAll()
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
