import { sql } from 'kysely';
import type { NewUser, Queryable, UserRow, UserUpdate } from './schema.js';
import { announceRevocation } from './session-events.js';

export type UserWithRoles = UserRow & { roles: string[] };

const rolesOf = sql<string[]>`coalesce(array(
  select ur.role_name from user_roles ur where ur.user_id = users.id order by ur.role_name
), '{}')`;

export function findUserByEmail(db: Queryable, email: string): Promise<UserWithRoles | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .select(rolesOf.as('roles'))
    .where(sql`lower(email)`, '=', email.toLowerCase())
    .executeTakeFirst();
}

export function findUserById(db: Queryable, id: string): Promise<UserWithRoles | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .select(rolesOf.as('roles'))
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function insertUser(db: Queryable, user: NewUser): Promise<UserWithRoles> {
  const row = await db.insertInto('users').values(user).returningAll().executeTakeFirstOrThrow();
  return { ...row, roles: [] };
}

export async function updateUser(db: Queryable, id: string, changes: UserUpdate): Promise<void> {
  await db.updateTable('users').set(changes).where('id', '=', id).execute();
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
    .returning(rolesOf.as('roles'))
    .executeTakeFirst();
  if (user) await announceRevocation(db, { userId: id });
  return user;
}

/** True when `error` is PostgreSQL's unique_violation (e.g. two sign-ups racing for one email). */
export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === '23505';
}
