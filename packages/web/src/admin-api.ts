import type { LatchkeyClient } from '@latchkey/sdk';
import * as s from '@latchkey/contract';
import type { z } from 'zod';
import { query } from './format.js';

/**
 * The admin API as the admin page uses it. The SDK has no methods for it yet, so these go
 * through `api.request`; when it has, only this file changes.
 */

export type AdminUser = z.output<typeof s.adminUser>;
export type AdminDetail = z.output<typeof s.adminUserDetail>;
export type AuditEvent = z.output<typeof s.auditEvent>;
export type RoleInfo = z.output<typeof s.role>;

const userPath = (id: string) => `/admin/users/${encodeURIComponent(id)}`;

export const adminApi = {
  listUsers: (api: LatchkeyClient, params: { q?: string; cursor?: string; limit?: number }) =>
    api.request(
      'GET',
      `/admin/users${query({ q: params.q, cursor: params.cursor, limit: String(params.limit ?? 20) })}`,
      { schema: s.adminUsersResponse },
    ),

  getUser: (api: LatchkeyClient, id: string) =>
    api.request('GET', userPath(id), { schema: s.adminUserDetail }),

  updateUser: (api: LatchkeyClient, id: string, patch: { disabled?: boolean; roles?: string[] }) =>
    api.request('PATCH', userPath(id), { body: patch, schema: s.adminUserResponse }),

  forcePasswordReset: (api: LatchkeyClient, id: string) =>
    api.request('POST', `${userPath(id)}/reset-password`, { schema: null }),

  revokeSessions: (api: LatchkeyClient, id: string) =>
    api.request('POST', `${userPath(id)}/revoke-sessions`, { schema: null }),

  listRoles: (api: LatchkeyClient) =>
    api.request('GET', '/admin/roles', { schema: s.rolesResponse }),

  listAuditEvents: (
    api: LatchkeyClient,
    params: {
      userId?: string | undefined;
      type?: string;
      cursor?: string | undefined;
      limit?: number;
    },
  ) =>
    api.request(
      'GET',
      `/admin/audit-events${query({
        userId: params.userId,
        type: params.type,
        cursor: params.cursor,
        limit: String(params.limit ?? 25),
      })}`,
      { schema: s.auditEventsResponse },
    ),
};
