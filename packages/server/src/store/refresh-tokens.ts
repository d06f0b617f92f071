import { sql } from 'kysely';
import type { Selectable } from 'kysely';
import type { Queryable, RefreshTokensTable } from './schema.js';

export type RefreshTokenRow = Selectable<RefreshTokensTable>;
export type NewRefreshToken = Omit<
  RefreshTokenRow,
  'used_at' | 'successor_id' | 'successor_sealed' | 'revoked_at'
>;

export async function insertRefreshToken(db: Queryable, token: NewRefreshToken): Promise<void> {
  await db.insertInto('refresh_tokens').values(token).execute();
}

/**
 * The token by hash, with a row lock (`FOR UPDATE`) when `forUpdate`: two refreshes of one token
 * on two connections then run one after the other, and the second sees the first's rotation.
 */
export async function findRefreshTokenByHash(
  db: Queryable,
  tokenHash: string,
  options: { forUpdate?: boolean } = {},
): Promise<RefreshTokenRow | undefined> {
  let query = db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', tokenHash);
  if (options.forUpdate) query = query.forUpdate();
  return query.executeTakeFirst();
}

/** Marks a token used and records its successor (sealed for the grace window). */
export async function markRefreshTokenUsed(
  db: Queryable,
  id: string,
  values: { usedAt: Date; successorId: string; successorSealed: string },
): Promise<boolean> {
  const result = await db
    .updateTable('refresh_tokens')
    .set({
      used_at: values.usedAt,
      successor_id: values.successorId,
      successor_sealed: values.successorSealed,
    })
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Revokes every token of a family and erases the sealed successors it held. */
export async function revokeRefreshFamily(
  db: Queryable,
  familyId: string,
  now: Date,
): Promise<void> {
  await db
    .updateTable('refresh_tokens')
    .set({ revoked_at: sql`coalesce(revoked_at, ${now})`, successor_sealed: null })
    .where('family_id', '=', familyId)
    .execute();
}

/** Erases sealed successors whose grace window has passed (they are never needed again). */
export async function eraseExpiredSuccessors(db: Queryable, usedBefore: Date): Promise<void> {
  await db
    .updateTable('refresh_tokens')
    .set({ successor_sealed: null })
    .where('successor_sealed', 'is not', null)
    .where('used_at', '<', usedBefore)
    .execute();
}

/** Revokes every live refresh token of a user (disable, delete) and erases their successors. */
export async function revokeUserRefreshTokens(
  db: Queryable,
  userId: string,
  now: Date,
): Promise<void> {
  await db
    .updateTable('refresh_tokens')
    .set({ revoked_at: now, successor_sealed: null })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .execute();
}
