import { sql } from 'kysely';
import type { Selectable } from 'kysely';
import type { Queryable, RefreshTokensTable, SessionRow, UserRow } from './schema.js';

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

export interface SessionAndUser {
  session: Pick<
    SessionRow,
    | 'id'
    | 'user_id'
    | 'csrf_token'
    | 'last_seen_at'
    | 'idle_expires_at'
    | 'absolute_expires_at'
    | 'revoked_at'
  >;
  user: UserRow & { roles: string[] };
}

/** A session by id with its user and roles (bearer requests name their session by `sid`). */
export async function findSessionWithUserById(
  db: Queryable,
  sessionId: string,
): Promise<SessionAndUser | undefined> {
  const row = await db
    .selectFrom('sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select([
      's.id as session_id',
      's.csrf_token',
      's.last_seen_at',
      's.idle_expires_at',
      's.absolute_expires_at',
      's.revoked_at',
      'u.id',
      'u.email',
      'u.name',
      'u.password_hash',
      'u.email_verified_at',
      'u.disabled_at',
      'u.password_changed_at',
      'u.created_at',
      'u.updated_at',
      sql<string[]>`coalesce(array(
        select ur.role_name from user_roles ur where ur.user_id = u.id order by ur.role_name
      ), '{}')`.as('roles'),
    ])
    .where('s.id', '=', sessionId)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    session: {
      id: row.session_id,
      user_id: row.id,
      csrf_token: row.csrf_token,
      last_seen_at: row.last_seen_at,
      idle_expires_at: row.idle_expires_at,
      absolute_expires_at: row.absolute_expires_at,
      revoked_at: row.revoked_at,
    },
    user: {
      id: row.id,
      email: row.email,
      name: row.name,
      password_hash: row.password_hash,
      email_verified_at: row.email_verified_at,
      disabled_at: row.disabled_at,
      password_changed_at: row.password_changed_at,
      created_at: row.created_at,
      updated_at: row.updated_at,
      roles: row.roles,
    },
  };
}
