import { sql } from 'kysely';
import type { Selectable } from 'kysely';
import { deleteInBatches } from './batches.js';
import { compiledOnce } from './compiled-query.js';
import type { Queryable, RefreshTokensTable } from './schema.js';
import { endedSessionIds } from './sessions.js';

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
  'id' | 'family_id' | 'session_id' | 'user_id'
>;

export interface Exchange {
  tokenHash: string;
  now: Date;
  /** The successor; it expires with the session's idle window, never past its absolute end. */
  successor: { id: string; tokenHash: string; idleExpiresAt: Date };
}

/**
 * The usual refresh in one statement, atomic without a transaction: claims the token (marks it
 * used) only if it is unused, unrevoked, unexpired and its session not revoked, and inserts its
 * successor. Undefined when nothing was claimed — an unknown token, or one used, revoked or
 * expired already — which the caller judges under a lock. PostgreSQL re-checks the conditions
 * after waiting for the row, so two exchanges of one token never both claim it.
 */
export async function exchangeRefreshToken(
  db: Queryable,
  e: Exchange,
): Promise<ClaimedRefreshToken | undefined> {
  const { rows } = await exchangeStatement(db, {
    tokenHash: e.tokenHash,
    now: e.now,
    successorId: e.successor.id,
    successorHash: e.successor.tokenHash,
    idleExpiresAt: e.successor.idleExpiresAt,
  });
  return rows[0];
}

// Every refresh runs it: compiled once.
const exchangeStatement = compiledOnce(
  (
    db,
    v: {
      tokenHash: string;
      now: Date;
      successorId: string;
      successorHash: string;
      idleExpiresAt: Date;
    },
  ) =>
    db
      .with('claimed', (q) =>
        q
          .updateTable('refresh_tokens')
          .set({ used_at: v.now, successor_id: v.successorId })
          .where('token_hash', '=', v.tokenHash)
          .where('used_at', 'is', null)
          .where('revoked_at', 'is', null)
          .where('expires_at', '>', v.now)
          .where((eb) =>
            eb.exists(
              eb
                .selectFrom('sessions')
                .select('sessions.id')
                .whereRef('sessions.id', '=', 'refresh_tokens.session_id')
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
              .innerJoin('sessions', 'sessions.id', 'claimed.session_id')
              .select((s) => [
                s.cast<string>(s.val(v.successorId), 'uuid').as('id'),
                'claimed.family_id',
                'claimed.session_id',
                'claimed.user_id',
                'claimed.id as parent_id',
                s.cast<string>(s.val(v.successorHash), 'text').as('token_hash'),
                s.cast<Date>(s.val(v.now), 'timestamptz').as('created_at'),
                s
                  .fn<Date>('least', [
                    s.cast<Date>(s.val(v.idleExpiresAt), 'timestamptz'),
                    'sessions.absolute_expires_at',
                  ])
                  .as('expires_at'),
              ]),
          ),
      )
      .selectFrom('claimed')
      .select(['id', 'family_id', 'session_id', 'user_id']),
);

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

/**
 * Deletes the refresh tokens of the sessions that ended before `before`, in batches; returns how
 * many. Used tokens stay while their session lives: reuse detection needs them.
 */
export function purgeRefreshTokensOfEndedSessions(
  db: Queryable,
  before: Date,
  batch = 5000,
): Promise<number> {
  return deleteInBatches(
    db,
    'refresh_tokens',
    (limit) =>
      db
        .selectFrom('refresh_tokens')
        .select('id')
        .where('session_id', 'in', endedSessionIds(db, before))
        .limit(limit),
    batch,
  );
}
