import { sql } from 'kysely';
import type { Queryable } from './schema.js';
import { announceRevocation } from './session-events.js';
import { revokeUserSessions } from './sessions.js';
import type { UserWithRoles } from './users.js';

/** Repositories of the admin API: user search, deletion, the audit trail, retention. */

const rolesOf = sql<string[]>`coalesce(array(
  select ur.role_name from user_roles ur where ur.user_id = users.id order by ur.role_name
), '{}')`;

export interface UserSearch {
  /** Email prefix, case-insensitive. */
  q?: string | undefined;
  verified?: boolean | undefined;
  disabled?: boolean | undefined;
  role?: string | undefined;
  /** Users with an id below this one (the previous page's last): newest first. */
  beforeId?: string | undefined;
  limit: number;
}

/** Escapes LIKE's wildcards so that a search for `a_b` finds only `a_b…`. */
function likePrefix(value: string): string {
  return `${value.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * Users newest first (ids are UUIDv7, so id order is creation order), keyset-paginated on the
 * id: rows inserted meanwhile never shift a page, they only appear before the first one.
 */
export async function searchUsers(db: Queryable, search: UserSearch): Promise<UserWithRoles[]> {
  let query = db.selectFrom('users').selectAll().select(rolesOf.as('roles'));
  if (search.q) query = query.where(sql<boolean>`lower(email) like ${likePrefix(search.q)}`);
  if (search.verified !== undefined) {
    query = query.where('email_verified_at', search.verified ? 'is not' : 'is', null);
  }
  if (search.disabled !== undefined) {
    query = query.where('disabled_at', search.disabled ? 'is not' : 'is', null);
  }
  if (search.role) {
    const role = search.role;
    query = query.where(({ exists, selectFrom }) =>
      exists(
        selectFrom('user_roles as ur')
          .select('ur.user_id')
          .whereRef('ur.user_id', '=', 'users.id')
          .where('ur.role_name', '=', role),
      ),
    );
  }
  if (search.beforeId) query = query.where('id', '<', search.beforeId);
  return query.orderBy('id', 'desc').limit(search.limit).execute();
}

/**
 * Ends every session and every refresh family of a user at once (disable, delete). Sessions go
 * through `revokeUserSessions`, so every instance's session cache drops them.
 */
export async function revokeEverything(
  db: Queryable,
  userId: string,
  reason: string,
  now: Date,
): Promise<number> {
  const revoked = await revokeUserSessions(db, userId, reason, now);
  await db
    .updateTable('refresh_tokens')
    .set({ revoked_at: now, successor_sealed: null })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .execute();
  return revoked.length;
}

/**
 * Evicts a user's cached sessions on every instance without revoking them: a change of roles or
 * of the disabled flag then shows on the very next request.
 */
export function refreshCachedUser(db: Queryable, userId: string): Promise<void> {
  return announceRevocation(db, { userId });
}

/** Deletes the user and, by cascade, their sessions, tokens and roles; their queued mail too. */
export async function deleteUserAndData(
  db: Queryable,
  user: { id: string; email: string },
): Promise<void> {
  await db
    .deleteFrom('mail_outbox')
    .where(sql`lower(to_address)`, '=', user.email.toLowerCase())
    .execute();
  await db.deleteFrom('users').where('id', '=', user.id).execute();
}

export interface AuditSearch {
  userId?: string | undefined;
  types?: string[] | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  beforeId?: string | undefined;
  limit: number;
}

export interface AuditRow {
  id: string;
  type: string;
  user_id: string | null;
  actor_id: string | null;
  ip: string | null;
  user_agent: string | null;
  data: Record<string, unknown>;
  created_at: Date;
  /** The current address of `user_id` / `actor_id`; null once the account is deleted. */
  user_email: string | null;
  actor_email: string | null;
}

/** Audit events newest first, keyset-paginated on the (time-ordered UUIDv7) id. */
export async function searchAuditEvents(db: Queryable, search: AuditSearch): Promise<AuditRow[]> {
  let query = db
    .selectFrom('audit_events as e')
    .leftJoin('users as u', 'u.id', 'e.user_id')
    .leftJoin('users as a', 'a.id', 'e.actor_id')
    .selectAll('e')
    .select(['u.email as user_email', 'a.email as actor_email']);
  if (search.userId) query = query.where('e.user_id', '=', search.userId);
  if (search.types && search.types.length > 0) query = query.where('e.type', 'in', search.types);
  if (search.from) query = query.where('e.created_at', '>=', search.from);
  if (search.to) query = query.where('e.created_at', '<', search.to);
  if (search.beforeId) query = query.where('e.id', '<', search.beforeId);
  return query.orderBy('e.id', 'desc').limit(search.limit).execute();
}

/** Deletes up to `batch` rows of `table` older than `before`; returns how many. */
async function purgeBatch(
  db: Queryable,
  table: 'audit_events' | 'mail_outbox',
  before: Date,
  batch: number,
): Promise<number> {
  const result =
    table === 'audit_events'
      ? await db
          .deleteFrom('audit_events')
          .where('id', 'in', (eb) =>
            eb
              .selectFrom('audit_events')
              .select('id')
              .where('created_at', '<', before)
              .limit(batch),
          )
          .executeTakeFirst()
      : await db
          .deleteFrom('mail_outbox')
          .where('id', 'in', (eb) =>
            eb
              .selectFrom('mail_outbox')
              .select('id')
              .where('status', 'in', ['sent', 'failed'])
              .where('created_at', '<', before)
              .limit(batch),
          )
          .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Purges in batches (short transactions, no long lock) until nothing is left to purge. */
export async function purgeOlderThan(
  db: Queryable,
  table: 'audit_events' | 'mail_outbox',
  before: Date,
  batch = 5000,
): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await purgeBatch(db, table, before, batch);
    total += deleted;
    if (deleted < batch) return total;
  }
}

/** Outbox rows by status (metrics). */
export async function countMailsByStatus(db: Queryable): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('mail_outbox')
    .select(['status', (eb) => eb.fn.countAll().as('count')])
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.count)]));
}
