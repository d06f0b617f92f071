import * as s from '@latchkey/contract';
import type { z } from 'zod';
import type {
  AdminUser,
  AdminUserDetail,
  AdminUserPatch,
  AdminUsersPage,
  AdminUsersQuery,
  AuditEventsPage,
  AuditEventsQuery,
  CreatedWebhookEndpoint,
  CreateRoleInput,
  CreateWebhookInput,
  Role,
  RolesList,
  UpdateWebhookInput,
  WebhookDeliveriesPage,
  WebhookDeliveriesQuery,
  WebhookEndpoint,
} from './types.js';

/** How the admin API calls: the client's own signed-in request. */
export type SignedInCall = <T>(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  options: { body?: unknown; schema: z.ZodType<T> | null },
) => Promise<T>;

/**
 * The admin API, as `client.admin`: the signed-in user's credentials, CSRF header, token
 * refresh and errors, like every other method. Without the route's permission the answer is
 * 403 `forbidden`; acting beyond your own permissions 403 `insufficient_privilege`.
 */
export class LatchkeyAdmin {
  constructor(private readonly call: SignedInCall) {}

  /** Users, newest first, with an email-prefix search and filters (`users:read`). */
  listUsers(query: AdminUsersQuery = {}): Promise<AdminUsersPage> {
    return this.call('GET', `/admin/users${queryString(query)}`, {
      schema: s.adminUsersResponse,
    });
  }

  /** One user with their live sessions (`users:read`); 404 `not_found` for any unknown id. */
  getUser(id: string): Promise<AdminUserDetail> {
    return this.call('GET', userPath(id), { schema: s.adminUserDetail });
  }

  /**
   * Disables or enables, renames, sets the roles (`users:write`; `roles` also needs
   * `roles:write`). 409 `last_admin` when no enabled admin would be left.
   */
  async updateUser(id: string, patch: AdminUserPatch): Promise<AdminUser> {
    const { user } = await this.call('PATCH', userPath(id), {
      body: patch,
      schema: s.adminUserResponse,
    });
    return user;
  }

  /** Ends every session and refresh family of the user at once; sign-in then fails. */
  disableUser(id: string): Promise<AdminUser> {
    return this.updateUser(id, { disabled: true });
  }

  enableUser(id: string): Promise<AdminUser> {
    return this.updateUser(id, { disabled: false });
  }

  /** Replaces the user's roles (`users:write` and `roles:write`). */
  setUserRoles(id: string, roles: string[]): Promise<AdminUser> {
    return this.updateUser(id, { roles });
  }

  /** Deletes the user and everything of theirs but the audit trail (`users:write`). */
  deleteUser(id: string): Promise<void> {
    return this.call('DELETE', userPath(id), { schema: null });
  }

  /**
   * Removes every second factor of the user (`users:write`), for a lost phone: the next
   * sign-in needs only the password. Audited; the user is mailed.
   */
  removeSecondFactors(id: string): Promise<void> {
    return this.call('DELETE', `${userPath(id)}/mfa`, { schema: null });
  }

  /** Signs the user out everywhere: sessions and refresh tokens (`sessions:revoke`). */
  revokeUserSessions(id: string): Promise<void> {
    return this.call('POST', `${userPath(id)}/revoke-sessions`, { schema: null });
  }

  /**
   * Forces a password reset (`users:write`): the password stops working, sessions end, and the
   * user is mailed a reset link. 409 `user_disabled` for a disabled account.
   */
  resetUserPassword(id: string): Promise<{ message: string }> {
    return this.call('POST', `${userPath(id)}/reset-password`, { schema: s.message });
  }

  /** The roles with their permissions, and every permission there is (`users:read`). */
  listRoles(): Promise<RolesList> {
    return this.call('GET', '/admin/roles', { schema: s.rolesResponse });
  }

  /** A custom role with some of the permissions (`roles:write`); 409 `role_exists`. */
  async createRole(input: CreateRoleInput): Promise<Role> {
    const { role } = await this.call('POST', '/admin/roles', {
      body: input,
      schema: s.roleResponse,
    });
    return role;
  }

  /** The audit trail, newest first, by user, type and time (`audit:read`). */
  auditEvents(query: AuditEventsQuery = {}): Promise<AuditEventsPage> {
    return this.call('GET', `/admin/audit-events${queryString(query)}`, {
      schema: s.auditEventsResponse,
    });
  }

  /**
   * Adds a webhook endpoint (`webhooks:manage`). The answer's `secret` (`whsec_…`) is shown
   * only here: give it to the receiver. 400 `webhook_url_refused` for a private address.
   */
  createWebhook(input: CreateWebhookInput): Promise<CreatedWebhookEndpoint> {
    return this.call('POST', '/admin/webhooks', { body: input, schema: s.createdWebhookResponse });
  }

  /** The endpoints, without secrets; `disabledReason` says why Latchkey disabled one. */
  async listWebhooks(): Promise<WebhookEndpoint[]> {
    const { webhooks } = await this.call('GET', '/admin/webhooks', {
      schema: s.webhooksResponse,
    });
    return webhooks;
  }

  /** Changes the URL, events or description; `enabled: true` resumes a disabled endpoint. */
  updateWebhook(id: string, patch: UpdateWebhookInput): Promise<WebhookEndpoint> {
    return this.call('PATCH', webhookPath(id), { body: patch, schema: s.webhookEndpoint });
  }

  /** Removes the endpoint and its deliveries. */
  deleteWebhook(id: string): Promise<void> {
    return this.call('DELETE', webhookPath(id), { schema: null });
  }

  /** A new signing secret, shown only here; the previous one also signs for 24 hours. */
  async rotateWebhookSecret(id: string): Promise<string> {
    const { secret } = await this.call('POST', `${webhookPath(id)}/rotate-secret`, {
      schema: s.webhookSecretResponse,
    });
    return secret;
  }

  /** Queues a `webhook.test` event for the endpoint; `eventId` is its `webhook-id`. */
  testWebhook(id: string): Promise<{ message: string; eventId: string }> {
    return this.call('POST', `${webhookPath(id)}/test`, { schema: s.webhookTestResponse });
  }

  /** The endpoint's deliveries, newest event first: status, attempts, the last error. */
  webhookDeliveries(
    id: string,
    query: WebhookDeliveriesQuery = {},
  ): Promise<WebhookDeliveriesPage> {
    return this.call('GET', `${webhookPath(id)}/deliveries${queryString(query)}`, {
      schema: s.webhookDeliveriesResponse,
    });
  }

  /** Queues a delivery again now, with a fresh retry period. */
  retryWebhookDelivery(id: string, deliveryId: string): Promise<{ message: string }> {
    return this.call(
      'POST',
      `${webhookPath(id)}/deliveries/${encodeURIComponent(deliveryId)}/retry`,
      { schema: s.message },
    );
  }
}

const webhookPath = (id: string) => `/admin/webhooks/${encodeURIComponent(id)}`;

const userPath = (id: string) => `/admin/users/${encodeURIComponent(id)}`;

/** `?a=1&b=2` from the defined values; booleans as `true`/`false`, dates as ISO 8601. */
type QueryValue = string | number | boolean | Date | string[] | undefined;

export function queryString<Q extends { [K in keyof Q]: QueryValue }>(query: Q): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query) as [string, QueryValue][]) {
    if (value === undefined) continue;
    if (value instanceof Date) params.set(key, value.toISOString());
    else if (Array.isArray(value)) params.set(key, value.join(','));
    else params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}
