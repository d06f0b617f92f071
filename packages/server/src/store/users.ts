import { sql, type Transaction } from 'kysely';
import { type AuditEvent, auditEventRow } from './audit.js';
import { emailTokenRow, type NewEmailToken, pendingSignupHashesOf } from './email-tokens.js';
import { confirmedTotpOf } from './mfa-totp.js';
import { deleteMailsTo, type OutgoingMail, outboxRow } from './outbox.js';
import { passkeysOf } from './passkeys.js';
import { rolesOf } from './rbac.js';
import { unusedRecoveryCodesOf } from './recovery-codes.js';
import type { Database, NewUser, Queryable, UserRow, UserUpdate } from './schema.js';
import { announceRevocation } from './session-events.js';
import { type NewWebhookEvent, withSubscribedWebhookEvent } from './webhook-events.js';

export type UserWithRoles = UserRow & { roles: string[] };

export function findUserByEmail(db: Queryable, email: string): Promise<UserWithRoles | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .select(rolesOf('users.id').as('roles'))
    .where(sql`lower(email)`, '=', email.toLowerCase())
    .executeTakeFirst();
}

/**
 * A user by email, with the password hashes of their pending sign-ups when the address is
 * unconfirmed and the account enabled (none otherwise): what a sign-in and a sign-up check, in
 * one statement.
 */
export async function findUserWithPendingSignups(
  db: Queryable,
  email: string,
  now: Date,
): Promise<{ user: UserWithRoles; pendingSignupHashes: string[] } | undefined> {
  const row = await db
    .selectFrom('users')
    .selectAll()
    .select(rolesOf('users.id').as('roles'))
    .select((eb) =>
      eb
        .case()
        .when(eb.and([eb('email_verified_at', 'is', null), eb('disabled_at', 'is', null)]))
        .then(pendingSignupHashesOf(db, now))
        .else(sql<string[]>`'{}'`)
        .end()
        .as('pending_signup_hashes'),
    )
    .where(sql`lower(email)`, '=', email.toLowerCase())
    .executeTakeFirst();
  if (!row) return undefined;
  const { pending_signup_hashes: pendingSignupHashes, ...user } = row;
  return { user, pendingSignupHashes };
}

export function findUserById(db: Queryable, id: string): Promise<UserWithRoles | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .select(rolesOf('users.id').as('roles'))
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function insertUser(db: Queryable, user: NewUser): Promise<UserWithRoles> {
  const row = await db.insertInto('users').values(user).returningAll().executeTakeFirstOrThrow();
  return { ...row, roles: [] };
}

/** What a sign-up writes with its new user. */
export interface SignupRecords {
  /** The verification link (its mail carries the token). */
  token: NewEmailToken;
  mail: OutgoingMail;
  audit: AuditEvent;
  /** `user.created`, written only for the endpoints that asked for it. */
  event: NewWebhookEvent;
}

/**
 * Inserts a new user with their verification link, its mail, the audit event and the webhook
 * event in one statement: atomic without a transaction, one round trip instead of seven
 * (BEGIN, the INSERTs, the endpoints' query, COMMIT). Throws unique_violation when the address
 * is taken, writing nothing.
 */
export async function insertUserWithSignup(
  db: Queryable,
  user: NewUser & { id: string; created_at: Date },
  records: SignupRecords,
): Promise<void> {
  await withSubscribedWebhookEvent(db, records.event)
    .with('created', (q) => q.insertInto('users').values(user).returning('id'))
    .with('link', (q) => q.insertInto('email_tokens').values(emailTokenRow(records.token)))
    .with('mail', (q) =>
      q.insertInto('mail_outbox').values(outboxRow(records.mail, user.created_at)),
    )
    .insertInto('audit_events')
    .values(auditEventRow(records.audit, user.created_at))
    .execute();
}

export async function updateUser(db: Queryable, id: string, changes: UserUpdate): Promise<void> {
  await db.updateTable('users').set(changes).where('id', '=', id).execute();
}

/**
 * Which second factors the user holds, in one statement (asked at every sign-in): a confirmed
 * TOTP secret, a passkey, an unused recovery code.
 */
export function secondFactorsOf(
  db: Queryable,
  userId: string,
): Promise<{ totp: boolean; passkey: boolean; recovery: boolean }> {
  return db
    .selectNoFrom(({ exists }) => [
      exists(confirmedTotpOf(db, userId)).as('totp'),
      exists(passkeysOf(db, userId)).as('passkey'),
      exists(unusedRecoveryCodesOf(db, userId)).as('recovery'),
    ])
    .$castTo<{ totp: boolean; passkey: boolean; recovery: boolean }>()
    .executeTakeFirstOrThrow();
}

/** Locks the user's row until the transaction ends (serialises token issuing per user). */
export async function lockUser(db: Queryable, userId: string): Promise<void> {
  await db.selectFrom('users').select('id').where('id', '=', userId).forUpdate().execute();
}

/** Inserts a user unless one with the same email (case-insensitively) exists; true if inserted. */
export async function insertUserIfAbsent(db: Queryable, user: NewUser): Promise<boolean> {
  const row = await db
    .insertInto('users')
    .values(user)
    .onConflict((oc) => oc.doNothing())
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Gives the user a new, verified address inside the caller's transaction; false when another
 * account holds it. The savepoint keeps the transaction usable after the unique index refuses
 * the address (a sign-up may take it between the caller's check and this update).
 */
export async function changeUserEmail(
  trx: Transaction<Database>,
  id: string,
  email: string,
  now: Date,
): Promise<boolean> {
  await sql`savepoint email_change`.execute(trx);
  try {
    await updateUser(trx, id, { email, email_verified_at: now, updated_at: now });
    return true;
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    await sql`rollback to savepoint email_change`.execute(trx);
    return false;
  }
}

/** Deletes the user and, by cascade, their sessions, tokens and roles; their queued mail too. */
export async function deleteUserAndData(
  db: Queryable,
  user: { id: string; email: string },
): Promise<void> {
  await deleteMailsTo(db, user.email);
  await db.deleteFrom('users').where('id', '=', user.id).execute();
}

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
  let query = db.selectFrom('users').selectAll().select(rolesOf('users.id').as('roles'));
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
 * Sets a user's display name; the updated user, or undefined for an unknown id. Cached sessions
 * carry the user, so they are evicted on every instance (as a revocation would, without
 * revoking anything): the new name shows on the very next request.
 */
export async function updateUserName(
  db: Queryable,
  id: string,
  name: string,
  now: Date,
): Promise<UserWithRoles | undefined> {
  const user = await db
    .updateTable('users')
    .set({ name, updated_at: now })
    .where('id', '=', id)
    .returningAll()
    .returning(rolesOf('users.id').as('roles'))
    .executeTakeFirst();
  if (user) await announceRevocation(db, { userId: id });
  return user;
}

/** True when `error` is PostgreSQL's unique_violation (e.g. two sign-ups racing for one email). */
export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === '23505';
}
