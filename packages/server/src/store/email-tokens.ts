import type { EmailTokenPurpose, EmailTokenRow, Queryable } from './schema.js';

/**
 * Stores a new token (by hash) and voids the user's older unused tokens of the same purpose,
 * so only the newest link works.
 */
export async function replaceEmailToken(
  db: Queryable,
  token: {
    id: string;
    userId: string;
    purpose: EmailTokenPurpose;
    tokenHash: string;
    newEmail?: string | null;
    now: Date;
    expiresAt: Date;
  },
): Promise<void> {
  await db
    .deleteFrom('email_tokens')
    .where('user_id', '=', token.userId)
    .where('purpose', '=', token.purpose)
    .where('used_at', 'is', null)
    .execute();
  await db
    .insertInto('email_tokens')
    .values({
      id: token.id,
      user_id: token.userId,
      purpose: token.purpose,
      token_hash: token.tokenHash,
      new_email: token.newEmail ?? null,
      created_at: token.now,
      expires_at: token.expiresAt,
    })
    .execute();
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
