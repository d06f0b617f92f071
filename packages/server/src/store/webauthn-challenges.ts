import type { Queryable, WebauthnChallengesTable } from './schema.js';

type Purpose = WebauthnChallengesTable['purpose'];

export async function insertChallenge(
  db: Queryable,
  row: { challenge: string; userId: string | null; purpose: Purpose; expiresAt: Date; now: Date },
): Promise<void> {
  // Anyone may ask for sign-in options: each insert sweeps the expired challenges.
  await db.deleteFrom('webauthn_challenges').where('expires_at', '<', row.now).execute();
  await db
    .insertInto('webauthn_challenges')
    .values({
      challenge: row.challenge,
      user_id: row.userId,
      purpose: row.purpose,
      expires_at: row.expiresAt,
    })
    .execute();
}

/** Spends a live challenge (single use); its user, or undefined when unknown or expired. */
export async function consumeChallenge(
  db: Queryable,
  challenge: string,
  purpose: Purpose,
  now: Date,
): Promise<{ userId: string | null } | undefined> {
  const row = await db
    .deleteFrom('webauthn_challenges')
    .where('challenge', '=', challenge)
    .where('purpose', '=', purpose)
    .where('expires_at', '>', now)
    .returning('user_id')
    .executeTakeFirst();
  return row ? { userId: row.user_id } : undefined;
}
