import { sql } from 'kysely';
import type { Selectable } from 'kysely';
import type { Queryable, RefreshTokensTable } from './schema.js';
import { type SessionWithUser, selectSessionWithUser, toSessionWithUser } from './sessions.js';

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

/**
 * The token by hash with its session, the session's user and the user's roles: all a refresh
 * reads, in one indexed lookup and without a lock (`rotateRefreshToken` decides atomically).
 */
export async function findRefreshTokenWithSession(
  db: Queryable,
  tokenHash: string,
): Promise<{ token: RefreshTokenRow; found: SessionWithUser } | undefined> {
  const row = await selectSessionWithUser(db)
    .innerJoin('refresh_tokens as rt', 'rt.session_id', 's.id')
    .select([
      'rt.id as rt_id',
      'rt.family_id as rt_family_id',
      'rt.user_id as rt_user_id',
      'rt.parent_id as rt_parent_id',
      'rt.token_hash as rt_token_hash',
      'rt.created_at as rt_created_at',
      'rt.expires_at as rt_expires_at',
      'rt.used_at as rt_used_at',
      'rt.successor_id as rt_successor_id',
      'rt.successor_sealed as rt_successor_sealed',
      'rt.revoked_at as rt_revoked_at',
    ])
    .where('rt.token_hash', '=', tokenHash)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    token: {
      id: row.rt_id,
      family_id: row.rt_family_id,
      session_id: row.id,
      user_id: row.rt_user_id,
      parent_id: row.rt_parent_id,
      token_hash: row.rt_token_hash,
      created_at: row.rt_created_at,
      expires_at: row.rt_expires_at,
      used_at: row.rt_used_at,
      successor_id: row.rt_successor_id,
      successor_sealed: row.rt_successor_sealed,
      revoked_at: row.rt_revoked_at,
    },
    found: toSessionWithUser(row),
  };
}

export interface Rotation {
  /** The token being exchanged. */
  parentId: string;
  sessionId: string;
  usedAt: Date;
  successor: { id: string; tokenHash: string; expiresAt: Date; sealed: string };
  /** The session's new last-seen and idle expiry, when due (a refresh is activity). */
  touch: { lastSeenAt: Date; idleExpiresAt: Date } | null;
}

/**
 * Exchanges a refresh token in one statement, atomic without a transaction: marks it used with
 * its sealed successor — only if it is still unused, unrevoked and its session not revoked —
 * and then inserts the successor and slides the session. False when another exchange (or a
 * revocation) came first: PostgreSQL re-checks those conditions after waiting for the row.
 */
export async function rotateRefreshToken(db: Queryable, r: Rotation): Promise<boolean> {
  const touch = r.touch ?? { lastSeenAt: r.usedAt, idleExpiresAt: r.usedAt };
  const row = await db
    .with('claimed', (q) =>
      q
        .updateTable('refresh_tokens')
        .set({
          used_at: r.usedAt,
          successor_id: r.successor.id,
          successor_sealed: r.successor.sealed,
        })
        .where('id', '=', r.parentId)
        .where('used_at', 'is', null)
        .where('revoked_at', 'is', null)
        .where((eb) =>
          eb.exists(
            eb
              .selectFrom('sessions')
              .select('sessions.id')
              .where('sessions.id', '=', r.sessionId)
              .where('sessions.revoked_at', 'is', null),
          ),
        )
        .returning(['id', 'family_id', 'session_id', 'user_id']),
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
            .select([
              eb.cast<string>(eb.val(r.successor.id), 'uuid').as('id'),
              'claimed.family_id',
              'claimed.session_id',
              'claimed.user_id',
              'claimed.id as parent_id',
              eb.cast<string>(eb.val(r.successor.tokenHash), 'text').as('token_hash'),
              eb.cast<Date>(eb.val(r.usedAt), 'timestamptz').as('created_at'),
              eb.cast<Date>(eb.val(r.successor.expiresAt), 'timestamptz').as('expires_at'),
            ]),
        )
        .returning('id'),
    )
    .with('touched', (q) =>
      q
        .updateTable('sessions')
        .set({ last_seen_at: touch.lastSeenAt, idle_expires_at: touch.idleExpiresAt })
        .where('id', '=', r.sessionId)
        .where('revoked_at', 'is', null)
        .where(sql<boolean>`${r.touch !== null}`)
        .where((eb) => eb.exists(eb.selectFrom('claimed').select('claimed.id')))
        .returning('sessions.id'),
    )
    .selectFrom('successor')
    .select('successor.id')
    .executeTakeFirst();
  return row !== undefined;
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
export async function eraseExpiredSuccessors(db: Queryable, usedBefore: Date): Promise<number> {
  const result = await db
    .updateTable('refresh_tokens')
    .set({ successor_sealed: null })
    .where('successor_sealed', 'is not', null)
    .where('used_at', '<', usedBefore)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
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
