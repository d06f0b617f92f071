import type * as s from '@latchkey/contract';
import type { z } from 'zod';

export { isProblemCode, PROBLEM_CODES } from '@latchkey/contract';

export type User = z.output<typeof s.user>;
export type TokenPair = z.output<typeof s.tokenPair>;
export type Problem = z.output<typeof s.problem>;
export type DeviceSession = z.output<typeof s.deviceSession>;
export type RegisterInput = z.input<typeof s.registerBody>;
export type LoginInput = z.input<typeof s.loginBody>;
export type ActivityEvent = z.output<typeof s.activityEvent>;
export type ActivityPage = z.output<typeof s.activityResponse>;
export type HealthStatus = z.output<typeof s.healthStatus>;
export type AdminUser = z.output<typeof s.adminUser>;
export type AdminUserDetail = z.output<typeof s.adminUserDetail>;
export type AdminUsersPage = z.output<typeof s.adminUsersResponse>;
export type AdminUserPatch = z.input<typeof s.adminUserPatch>;
export type Role = z.output<typeof s.role>;
export type RolesList = z.output<typeof s.rolesResponse>;
export type CreateRoleInput = z.input<typeof s.createRoleBody>;
export type AuditEvent = z.output<typeof s.auditEvent>;
export type AuditEventsPage = z.output<typeof s.auditEventsResponse>;
export type WebhookEndpoint = z.output<typeof s.webhookEndpoint>;
export type CreatedWebhookEndpoint = z.output<typeof s.createdWebhookResponse>;
export type CreateWebhookInput = z.input<typeof s.createWebhookBody>;
export type UpdateWebhookInput = z.input<typeof s.updateWebhookBody>;
export type WebhookDelivery = z.output<typeof s.webhookDelivery>;
export type WebhookDeliveriesPage = z.output<typeof s.webhookDeliveriesResponse>;
export type { WebhookEventType } from '@latchkey/contract';
export type MfaMethod = z.output<typeof s.mfaMethod>;
export type MfaStatus = z.output<typeof s.mfaStatus>;
export type TotpSetup = z.output<typeof s.totpSetup>;
export type Passkey = z.output<typeof s.passkey>;
export type PasskeyAssertion = z.input<typeof s.passkeyAssertion>;
export type PasskeyAttestation = z.input<typeof s.passkeyAttestation>;
export type WebAuthnOptions = z.output<typeof s.webauthnOptions>;
export type SecondStepInput = z.input<typeof s.mfaVerifyBody>;
export type ReauthenticateInput = z.input<typeof s.reauthenticateBody>;
/** A right password for an account with a second factor: finish with `client.mfa.verify()`. */
export interface MfaRequired {
  mfaRequired: true;
  methods: MfaMethod[];
}

/** Codes the client itself gives: the server could not be reached, or answered nonsense. */
export type ClientProblemCode = 'network_error' | 'invalid_response';

/**
 * The problem codes of the API (`PROBLEM_CODES`) and of the client. Any other string may come
 * from a newer server, or is `http_<status>` for an answer that was not a problem document.
 */
export type ProblemCode = s.ProblemCode | ClientProblemCode | (string & {});

/** GET /auth/activity: a page of your own security events (newest first). */
export interface ActivityQuery {
  /** `nextCursor` of the previous page. */
  cursor?: string;
  /** 1–100, default 20. */
  limit?: number;
}

/** GET /admin/users: newest first. */
export interface AdminUsersQuery {
  /** Email prefix, case-insensitive. */
  q?: string;
  verified?: boolean;
  disabled?: boolean;
  /** Holding this role. */
  role?: string;
  cursor?: string;
  /** 1–200, default 50. */
  limit?: number;
}

/** GET /admin/webhooks/:id/deliveries: newest event first. */
export interface WebhookDeliveriesQuery {
  status?: 'pending' | 'delivered' | 'failed';
  cursor?: string;
  /** 1–200, default 50. */
  limit?: number;
}

/** GET /admin/audit-events: newest first. */
export interface AuditEventsQuery {
  userId?: string;
  /** One event type, or several. */
  type?: string | string[];
  from?: Date | string;
  to?: Date | string;
  cursor?: string;
  /** 1–200, default 50. */
  limit?: number;
}

// The query types above are hand-written (booleans and dates rather than the strings of a URL);
// these fail to compile when a schema gains or loses a parameter that they do not follow.
type SameKeys<A, B> = [keyof A] extends [keyof B]
  ? [keyof B] extends [keyof A]
    ? true
    : false
  : false;
type Check<T extends true> = T;
type _QueriesFollowTheSchemas = [
  Check<SameKeys<ActivityQuery, z.input<typeof s.activityQuery>>>,
  Check<SameKeys<AdminUsersQuery, z.input<typeof s.adminUsersQuery>>>,
  Check<SameKeys<AuditEventsQuery, z.input<typeof s.auditEventsQuery>>>,
  Check<SameKeys<WebhookDeliveriesQuery, z.input<typeof s.webhookDeliveriesQuery>>>,
];
