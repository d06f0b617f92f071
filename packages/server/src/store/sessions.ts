import { type AuditEvent, auditEventRow } from './audit.js';
import { deleteInBatches } from './batches.js';
import { rolesOf } from './rbac.js';
import type { Queryable, SessionRow, UserRow } from './schema.js';
import { announceRevocation } from './session-events.js';
import { type NewWebhookEvent, withSubscribedWebhookEvent } from './webhook-events.js';

export type NewSession = Omit<SessionRow, 'revoked_at' | 'revoked_reason'>;

/**
 * Inserts a session and its audit event in one statement: atomic without a transaction, and one
 * round trip instead of four (BEGIN, two INSERTs, COMMIT) on every sign-in. With `event`, the
 * same statement writes that webhook event for the endpoints that asked for it (none: nothing).
 */
export async function insertSessionWithAudit(
  db: Queryable,
  session: NewSession,
  audit: AuditEvent,
  event?: NewWebhookEvent,
): Promise<void> {
  await (event ? withSubscribedWebhookEvent(db, event) : db)
    .with('opened', (q) => q.insertInto('sessions').values(session).returning('id'))
    .insertInto('audit_events')
    .values(auditEventRow(audit, session.created_at))
    .execute();
}

export interface SessionWithUser {
  session: SessionRow;
  user: UserRow & { roles: string[] };
}

/** One indexed lookup: the session by token hash, its user and the user's roles. */
export function findSessionByTokenHash(
  db: Queryable,
  tokenHash: string,
): Promise<SessionWithUser | undefined> {
  return findSessionWithUser(db, 'token', tokenHash);
}

/** The same by session id (bearer requests name their session by `sid`). */
export function findSessionById(
  db: Queryable,
  sessionId: string,
): Promise<SessionWithUser | undefined> {
  return findSessionWithUser(db, 'id', sessionId);
}

async function findSessionWithUser(
  db: Queryable,
  by: 'token' | 'id',
  value: string,
): Promise<SessionWithUser | undefined> {
  const row = await selectSessionWithUser(db)
    .where(by === 'token' ? 's.token_hash' : 's.id', '=', value)
    .executeTakeFirst();
  return row && toSessionWithUser(row);
}

/**
 * A session (`s`) joined with its user (`u`) and the user's roles, for lookups that start
 * elsewhere too (a refresh token names its session). Read rows with `toSessionWithUser`.
 */
export function selectSessionWithUser(db: Queryable) {
  return db
    .selectFrom('sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select([
      's.id',
      's.user_id',
      's.token_hash',
      's.csrf_token',
      's.created_at',
      's.last_seen_at',
      's.idle_expires_at',
      's.absolute_expires_at',
      's.revoked_at',
      's.revoked_reason',
      's.ip',
      's.user_agent',
      's.amr',
      's.authenticated_at',
      'u.email',
      'u.name',
      'u.password_hash',
      'u.email_verified_at',
      'u.disabled_at',
      'u.password_changed_at',
      'u.created_at as user_created_at',
      'u.updated_at as user_updated_at',
      rolesOf('u.id').as('roles'),
    ]);
}

type SessionWithUserRow = Awaited<
  ReturnType<ReturnType<typeof selectSessionWithUser>['executeTakeFirstOrThrow']>
>;

export function toSessionWithUser(row: SessionWithUserRow): SessionWithUser {
  return {
    session: {
      id: row.id,
      user_id: row.user_id,
      token_hash: row.token_hash,
      csrf_token: row.csrf_token,
      created_at: row.created_at,
      last_seen_at: row.last_seen_at,
      idle_expires_at: row.idle_expires_at,
      absolute_expires_at: row.absolute_expires_at,
      revoked_at: row.revoked_at,
      revoked_reason: row.revoked_reason,
      ip: row.ip,
      user_agent: row.user_agent,
      amr: row.amr,
      authenticated_at: row.authenticated_at,
    },
    user: {
      id: row.user_id,
      email: row.email,
      name: row.name,
      password_hash: row.password_hash,
      email_verified_at: row.email_verified_at,
      disabled_at: row.disabled_at,
      password_changed_at: row.password_changed_at,
      created_at: row.user_created_at,
      updated_at: row.user_updated_at,
      roles: row.roles,
    },
  };
}

export async function touchSession(
  db: Queryable,
  id: string,
  values: { lastSeenAt: Date; idleExpiresAt: Date },
): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ last_seen_at: values.lastSeenAt, idle_expires_at: values.idleExpiresAt })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .execute();
}

/**
 * Records a fresh authentication of a live session (a second step, a re-authentication, a
 * factor just confirmed): its `amr` and authentication time. Cached copies are dropped.
 */
export async function markSessionAuthenticated(
  db: Queryable,
  id: string,
  values: { amr: string; authenticatedAt: Date },
): Promise<boolean> {
  const result = await db
    .updateTable('sessions')
    .set({ amr: values.amr, authenticated_at: values.authenticatedAt })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  if (result.numUpdatedRows > 0n) await announceRevocation(db, { sessionIds: [id] });
  return result.numUpdatedRows > 0n;
}

/** Revokes one session; returns whether it was live before. */
export async function revokeSession(
  db: Queryable,
  id: string,
  reason: string,
  now: Date,
): Promise<boolean> {
  const result = await db
    .updateTable('sessions')
    .set({ revoked_at: now, revoked_reason: reason })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  // Every instance's session cache drops it (see session-events.ts).
  if (result.numUpdatedRows > 0n) await announceRevocation(db, { sessionIds: [id] });
  return result.numUpdatedRows > 0n;
}

/** Revokes every live session of a user, but `exceptId` when given; returns the revoked ids. */
export async function revokeUserSessions(
  db: Queryable,
  userId: string,
  reason: string,
  now: Date,
  exceptId?: string,
): Promise<string[]> {
  let query = db
    .updateTable('sessions')
    .set({ revoked_at: now, revoked_reason: reason })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null);
  if (exceptId) query = query.where('id', '!=', exceptId);
  const rows = await query.returning('id').execute();
  if (rows.length > 0) await announceRevocation(db, { userId });
  return rows.map((r) => r.id);
}

/**
 * The ids of the sessions that ended (signed out or revoked, idle or past their absolute limit)
 * before `before`. Nothing reads an ended session any more: its cookie and its refresh tokens are
 * refused the same whether its rows are there or not. No index serves this: one on
 * `idle_expires_at` would make every touch of a live session update an index, and the hourly
 * purge's scan costs less.
 */
export function endedSessionIds(db: Queryable, before: Date) {
  return db
    .selectFrom('sessions')
    .select('id')
    .where((w) =>
      w.or([
        w('revoked_at', '<', before),
        w('idle_expires_at', '<', before),
        w('absolute_expires_at', '<', before),
      ]),
    );
}

/**
 * Deletes the sessions that ended before `before`, in batches; returns how many. Their refresh
 * tokens go by cascade, so purge those first (`purgeRefreshTokensOfEndedSessions`): a session
 * refreshed for a month has thousands, too many for one statement.
 */
export function purgeEndedSessions(db: Queryable, before: Date, batch = 1000): Promise<number> {
  return deleteInBatches(
    db,
    'sessions',
    (limit) => endedSessionIds(db, before).limit(limit),
    batch,
  );
}

/** The user's sessions that still work at `now`, most recently used first. */
export function listLiveSessions(
  db: Queryable,
  userId: string,
  now: Date,
): Promise<Pick<SessionRow, 'id' | 'created_at' | 'last_seen_at' | 'ip' | 'user_agent'>[]> {
  return db
    .selectFrom('sessions')
    .select(['id', 'created_at', 'last_seen_at', 'ip', 'user_agent'])
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('idle_expires_at', '>', now)
    .where('absolute_expires_at', '>', now)
    .orderBy('last_seen_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
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

/**
 * Evicts a user's cached sessions on every instance without revoking them: a change of roles or
 * of the disabled flag then shows on the very next request.
 */
export function refreshCachedUser(db: Queryable, userId: string): Promise<void> {
  return announceRevocation(db, { userId });
}
