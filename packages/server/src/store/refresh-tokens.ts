import { sql } from 'kysely';
import type { Selectable } from 'kysely';
import type { Queryable, RefreshTokensTable } from './schema.js';
import { rolesOf } from './rbac.js';
import { SESSION_WITH_USER_COLUMNS, type SessionWithUser, toSessionWithUser } from './sessions.js';

export type RefreshTokenRow = Selectable<RefreshTokensTable>;
export type NewRefreshToken = Omit<RefreshTokenRow, 'used_at' | 'successor_id' | 'revoked_at'>;

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

/** A token as its exchange claimed it. */
export type ClaimedRefreshToken = Pick<
  RefreshTokenRow,
  'id' | 'family_id' | 'session_id' | 'user_id' | 'expires_at'
>;

export interface Exchange {
  tokenHash: string;
  now: Date;
  /** The successor; it expires with the session's idle window, never past its absolute end. */
  successor: { id: string; tokenHash: string; idleExpiresAt: Date };
}

/**
 * The usual refresh in one statement, atomic without a transaction: claims the token (marks it
 * used) only if it is unused, unrevoked, unexpired and its session not revoked, inserts its
 * successor, and answers the session, user and roles that the new access token carries.
 * Undefined when nothing was claimed — an unknown token, or one used, revoked or expired
 * already — which the caller judges under a lock. PostgreSQL re-checks the conditions after
 * waiting for the row, so two exchanges of one token never both claim it.
 */
export async function exchangeRefreshToken(
  db: Queryable,
  e: Exchange,
): Promise<{ token: ClaimedRefreshToken; found: SessionWithUser } | undefined> {
  const row = await db
    .with('claimed', (q) =>
      q
        .updateTable('refresh_tokens')
        .set({ used_at: e.now, successor_id: e.successor.id })
        .where('token_hash', '=', e.tokenHash)
        .where('used_at', 'is', null)
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', e.now)
        .where((eb) =>
          eb.exists(
            eb
              .selectFrom('sessions')
              .select('sessions.id')
              .whereRef('sessions.id', '=', 'refresh_tokens.session_id')
              .where('sessions.revoked_at', 'is', null),
          ),
        )
        .returning(['id', 'family_id', 'session_id', 'user_id', 'expires_at']),
    )
    .with('successor', (q) =>
      q
        .insertInto('refresh_tokens')
        .columns([
          'id',
          'family_id',
          'session_id',
          'user_id',
          'parent_id',
          'token_hash',
          'created_at',
          'expires_at',
        ])
        .expression((eb) =>
          eb
            .selectFrom('claimed')
            .innerJoin('sessions', 'sessions.id', 'claimed.session_id')
            .select((s) => [
              s.cast<string>(s.val(e.successor.id), 'uuid').as('id'),
              'claimed.family_id',
              'claimed.session_id',
              'claimed.user_id',
              'claimed.id as parent_id',
              s.cast<string>(s.val(e.successor.tokenHash), 'text').as('token_hash'),
              s.cast<Date>(s.val(e.now), 'timestamptz').as('created_at'),
              s
                .fn<Date>('least', [
                  s.cast<Date>(s.val(e.successor.idleExpiresAt), 'timestamptz'),
                  'sessions.absolute_expires_at',
                ])
                .as('expires_at'),
            ]),
        ),
    )
    .selectFrom('claimed as rt')
    .innerJoin('sessions as s', 's.id', 'rt.session_id')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select([
      ...SESSION_WITH_USER_COLUMNS,
      rolesOf('u.id').as('roles'),
      'rt.id as rt_id',
      'rt.family_id as rt_family_id',
      'rt.expires_at as rt_expires_at',
    ])
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    token: {
      id: row.rt_id,
      family_id: row.rt_family_id,
      session_id: row.id,
      user_id: row.user_id,
      expires_at: row.rt_expires_at,
    },
    found: toSessionWithUser(row),
  };
}

/**
 * Revokes every token of a session: a session has one family, the tokens descended from its
 * sign-in, and it ends with them.
 */
export async function revokeSessionRefreshTokens(
  db: Queryable,
  sessionId: string,
  now: Date,
): Promise<void> {
  await db
    .updateTable('refresh_tokens')
    .set({ revoked_at: sql`coalesce(revoked_at, ${now})` })
    .where('session_id', '=', sessionId)
    .execute();
}

/** Revokes every live refresh token of a user (disable, delete). */
export async function revokeUserRefreshTokens(
  db: Queryable,
  userId: string,
  now: Date,
): Promise<void> {
  await db
    .updateTable('refresh_tokens')
    .set({ revoked_at: now })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .execute();
}
