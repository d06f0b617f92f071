import type { AuditRow } from '../store/audit.js';
import type { UserWithRoles } from '../store/users.js';
import { AuthError } from './errors.js';
import { type PublicUser, toPublicUser } from './request.js';

// What the admin API and the CLI show: permissions, the views of users, sessions and audit
// events, and the opaque page cursors.

/** Every permission an `/admin` route can ask for; the built-in `admin` role has them all. */
export const PERMISSIONS = [
  'users:read',
  'users:write',
  'sessions:revoke',
  'audit:read',
  'roles:write',
  'webhooks:manage',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const ADMIN_ROLE = 'admin';

/** What the admin API shows of a user: the public shape plus the account state. */
export interface AdminUser extends PublicUser {
  disabled: boolean;
  disabledAt: string | null;
}

export interface AdminSession {
  id: string;
  createdAt: string;
  lastSeenAt: string;
  ip: string | null;
  userAgent: string | null;
  device: string;
}

export interface AuditEventView {
  id: string;
  type: string;
  userId: string | null;
  actorId: string | null;
  ip: string | null;
  userAgent: string | null;
  data: Record<string, unknown>;
  createdAt: string;
  /** The current addresses of the user and the actor (null once deleted). */
  userEmail: string | null;
  actorEmail: string | null;
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const invalidCursor = () =>
  new AuthError('invalid_cursor', 400, 'The cursor is not one this API gave out.', {
    errors: [{ field: 'cursor', message: 'Use nextCursor from the previous page.' }],
  });

/** Opaque page cursors: the last row's id, base64url-encoded. */
export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}
export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!UUID.test(id)) throw invalidCursor();
  return id;
}

export function toAdminUser(user: UserWithRoles): AdminUser {
  return {
    ...toPublicUser(user),
    disabled: user.disabled_at !== null,
    disabledAt: user.disabled_at?.toISOString() ?? null,
  };
}

export function toAuditEventView(row: AuditRow): AuditEventView {
  return {
    id: row.id,
    type: row.type,
    userId: row.user_id,
    actorId: row.actor_id,
    ip: row.ip,
    userAgent: row.user_agent,
    data: row.data,
    createdAt: row.created_at.toISOString(),
    userEmail: row.user_email,
    actorEmail: row.actor_email,
  };
}

export function page<T extends { id: string }>(rows: T[], limit: number) {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
}
