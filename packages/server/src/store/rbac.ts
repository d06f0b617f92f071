import { sql } from 'kysely';
import type { Queryable } from './schema.js';

/** Roles, permissions and who holds which role. */

/**
 * A user's role names, sorted, as a column of a query over users: `userId` names the outer
 * query's user id column. The one place this sub-query is written.
 */
export function rolesOf(userId: 'users.id' | 'u.id') {
  return sql<string[]>`coalesce(array(
    select ur.role_name from user_roles ur where ur.user_id = ${sql.ref(userId)}
    order by ur.role_name
  ), '{}')`;
}

export interface RoleRow {
  name: string;
  description: string;
  permissions: string[];
  createdAt: Date;
}

export async function listPermissions(
  db: Queryable,
): Promise<{ name: string; description: string }[]> {
  return db.selectFrom('permissions').select(['name', 'description']).orderBy('name').execute();
}

export async function listRoles(db: Queryable): Promise<RoleRow[]> {
  const rows = await db
    .selectFrom('roles')
    .select([
      'name',
      'description',
      'created_at',
      sql<string[]>`coalesce(array(
        select rp.permission from role_permissions rp where rp.role_name = roles.name
        order by rp.permission
      ), '{}')`.as('permissions'),
    ])
    .orderBy('name')
    .execute();
  return rows.map((r) => ({
    name: r.name,
    description: r.description,
    permissions: r.permissions,
    createdAt: r.created_at,
  }));
}

/** Inserts a role and its permissions; false when a role of that name exists. */
export async function insertRole(
  db: Queryable,
  role: { name: string; description: string; permissions: string[] },
  now: Date,
): Promise<boolean> {
  const inserted = await db
    .insertInto('roles')
    .values({ name: role.name, description: role.description, created_at: now })
    .onConflict((oc) => oc.column('name').doNothing())
    .returning('name')
    .executeTakeFirst();
  if (!inserted) return false;
  if (role.permissions.length > 0) {
    await db
      .insertInto('role_permissions')
      .values(role.permissions.map((permission) => ({ role_name: role.name, permission })))
      .execute();
  }
  return true;
}

/** The permissions granted by any of `roles`. */
export async function permissionsOfRoles(db: Queryable, roles: string[]): Promise<Set<string>> {
  if (roles.length === 0) return new Set();
  const rows = await db
    .selectFrom('role_permissions')
    .select('permission')
    .distinct()
    .where('role_name', 'in', roles)
    .execute();
  return new Set(rows.map((r) => r.permission));
}

/** The names among `roles` that exist. */
export async function existingRoles(db: Queryable, roles: string[]): Promise<Set<string>> {
  if (roles.length === 0) return new Set();
  const rows = await db.selectFrom('roles').select('name').where('name', 'in', roles).execute();
  return new Set(rows.map((r) => r.name));
}

/** Replaces a user's roles. */
export async function setUserRoles(
  db: Queryable,
  userId: string,
  roles: string[],
  now: Date,
): Promise<void> {
  await db.deleteFrom('user_roles').where('user_id', '=', userId).execute();
  if (roles.length > 0) {
    await db
      .insertInto('user_roles')
      .values(roles.map((role_name) => ({ user_id: userId, role_name, created_at: now })))
      .execute();
  }
}

/** Enabled accounts holding the `admin` role, but `exceptUserId`. */
export async function countOtherEnabledAdmins(
  db: Queryable,
  exceptUserId: string | null,
): Promise<number> {
  let query = db
    .selectFrom('user_roles as ur')
    .innerJoin('users as u', 'u.id', 'ur.user_id')
    .select((eb) => eb.fn.countAll().as('count'))
    .where('ur.role_name', '=', 'admin')
    .where('u.disabled_at', 'is', null);
  if (exceptUserId) query = query.where('u.id', '!=', exceptUserId);
  const row = await query.executeTakeFirstOrThrow();
  return Number(row.count);
}

// Any constant shared by every instance: changes that could leave no admin run one at a time.
const ADMIN_CHANGE_LOCK_ID = 0x4c4b_0006;

/** Serialises, until the transaction ends, the changes that the last-admin rule guards. */
export async function lockAdminChanges(trx: Queryable): Promise<void> {
  await sql`select pg_advisory_xact_lock(${ADMIN_CHANGE_LOCK_ID})`.execute(trx);
}
