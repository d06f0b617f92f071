import type { Kysely } from 'kysely';

/** The permissions every deployment knows; the built-in `admin` role has all of them. */
export const BUILT_IN_PERMISSIONS = [
  ['users:read', 'List and read user accounts, their sessions and the roles'],
  ['users:write', 'Edit, disable, enable and delete accounts; force a password reset'],
  ['sessions:revoke', "Sign a user's sessions out"],
  ['audit:read', 'Read the audit trail'],
  ['roles:write', 'Create roles and give roles to users'],
] as const;

/** Roles and permissions: `roles` and `user_roles` exist since migration 1. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('permissions')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .execute();
  await db.schema
    .createTable('role_permissions')
    .addColumn('role_name', 'text', (c) => c.notNull().references('roles.name').onDelete('cascade'))
    .addColumn('permission', 'text', (c) =>
      c.notNull().references('permissions.name').onDelete('cascade'),
    )
    .addPrimaryKeyConstraint('role_permissions_pkey', ['role_name', 'permission'])
    .execute();
  await db
    .insertInto('permissions' as never)
    .values(BUILT_IN_PERMISSIONS.map(([name, description]) => ({ name, description })) as never)
    .execute();
  await db
    .insertInto('role_permissions' as never)
    .values(
      BUILT_IN_PERMISSIONS.map(([name]) => ({ role_name: 'admin', permission: name })) as never,
    )
    .execute();
  // "Who holds role X" (list filter, the last-admin check).
  await db.schema.createIndex('user_roles_role_idx').on('user_roles').column('role_name').execute();
  // The retention purge and time-range queries.
  await db.schema
    .createIndex('audit_events_created_idx')
    .on('audit_events')
    .column('created_at')
    .execute();
}
