import type {
  ColumnType,
  Generated,
  Insertable,
  Kysely,
  Selectable,
  Transaction,
  Updateable,
} from 'kysely';

/** Kysely's view of the tables created by ./migrations; keep the two in step. */
export interface Database {
  users: UsersTable;
  roles: RolesTable;
  user_roles: UserRolesTable;
  sessions: SessionsTable;
  email_tokens: EmailTokensTable;
  mail_outbox: MailOutboxTable;
  audit_events: AuditEventsTable;
  schema_migrations: SchemaMigrationsTable;
  signing_keys: SigningKeysTable;
  refresh_tokens: RefreshTokensTable;
  permissions: PermissionsTable;
  role_permissions: RolePermissionsTable;
  abuse_counters: AbuseCountersTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_events: WebhookEventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  mfa_totp: MfaTotpTable;
  mfa_recovery_codes: MfaRecoveryCodesTable;
  passkeys: PasskeysTable;
  mfa_pending: MfaPendingTable;
  webauthn_challenges: WebauthnChallengesTable;
}

type Timestamp = ColumnType<Date, Date, Date>;

export interface UsersTable {
  id: string;
  email: string;
  name: string | null;
  password_hash: string | null;
  email_verified_at: Timestamp | null;
  disabled_at: Timestamp | null;
  password_changed_at: Timestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface RolesTable {
  name: string;
  description: string;
  created_at: ColumnType<Date, Date | undefined, never>;
}

export interface PermissionsTable {
  name: string;
  description: string;
}

export interface RolePermissionsTable {
  role_name: string;
  permission: string;
}

export interface UserRolesTable {
  user_id: string;
  role_name: string;
  created_at: ColumnType<Date, Date | undefined, never>;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  token_hash: string;
  csrf_token: string;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  idle_expires_at: Timestamp;
  absolute_expires_at: Timestamp;
  revoked_at: Timestamp | null;
  revoked_reason: string | null;
  ip: string | null;
  user_agent: string | null;
  /** How the session signed in: RFC 8176 values, space-separated (`pwd`, `pwd otp mfa`…). */
  amr: ColumnType<string, string | undefined, string>;
  /** The last sign-in or re-authentication: recent-auth checks read it. */
  authenticated_at: Timestamp;
}

export type EmailTokenPurpose = 'verify_email' | 'reset_password' | 'change_email';

export interface EmailTokensTable {
  id: string;
  user_id: string;
  purpose: EmailTokenPurpose;
  token_hash: string;
  new_email: string | null;
  /** verify_email of a sign-up: the password and name that following this link activates. */
  password_hash: ColumnType<string | null, string | null | undefined, string | null>;
  name: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
}

export type MailStatus = 'pending' | 'sent' | 'failed';

export interface MailOutboxTable {
  id: string;
  to_address: string;
  subject: string;
  /** Cleared once sent: bodies carry live tokens and must not stay at rest. */
  text_body: string | null;
  html_body: string | null;
  status: MailStatus;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  last_error: string | null;
  created_at: Timestamp;
  sent_at: Timestamp | null;
}

export interface AuditEventsTable {
  id: string;
  type: string;
  user_id: string | null;
  actor_id: string | null;
  ip: string | null;
  user_agent: string | null;
  data: ColumnType<Record<string, unknown>, string, string>;
  created_at: Timestamp;
}

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  applied_at: ColumnType<Date, Date | undefined, never>;
}

export interface SigningKeysTable {
  kid: string;
  algorithm: string;
  public_jwk: string;
  private_key_encrypted: string;
  created_at: Timestamp;
  retired_at: Timestamp | null;
}

export interface RefreshTokensTable {
  id: string;
  family_id: string;
  session_id: string;
  user_id: string;
  parent_id: string | null;
  token_hash: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
  successor_id: string | null;
  revoked_at: Timestamp | null;
}

/** Epoch milliseconds in a bigint column: pg reads int8 as a string, so readers use Number(). */
type EpochMs = ColumnType<string | number, number, number>;

/** Rate-limit windows and login throttles shared through PostgreSQL (store/counters.ts). */
export interface AbuseCountersTable {
  key: string;
  count: number;
  touched_ms: EpochMs;
  expires_ms: EpochMs;
}

export interface WebhookEndpointsTable {
  id: string;
  url: string;
  events: string[];
  description: string;
  secret_encrypted: string;
  previous_secret_encrypted: string | null;
  previous_secret_expires_at: Timestamp | null;
  enabled: boolean;
  disabled_reason: string | null;
  failing_since: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface WebhookEventsTable {
  id: string;
  type: string;
  /** The exact JSON body every attempt sends and signs. */
  body: string;
  created_at: Timestamp;
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDeliveriesTable {
  id: string;
  event_id: string;
  endpoint_id: string;
  status: WebhookDeliveryStatus;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Timestamp;
  delivered_at: Timestamp | null;
}

/** bigint columns: pg reads int8 as a string, so readers use Number(). */
type BigIntColumn = ColumnType<string | number, number, number>;

export interface MfaTotpTable {
  user_id: string;
  secret_encrypted: string;
  created_at: Timestamp;
  confirmed_at: Timestamp | null;
  last_used_step: BigIntColumn | null;
}

export interface MfaRecoveryCodesTable {
  id: string;
  user_id: string;
  code_hash: string;
  created_at: Timestamp;
  used_at: Timestamp | null;
}

export interface PasskeysTable {
  id: string;
  user_id: string;
  /** base64url, as WebAuthn names it. */
  credential_id: string;
  /** The COSE public key, base64url. */
  public_key: string;
  counter: BigIntColumn;
  /** Comma list of the authenticator's transports (usb, internal, hybrid…). */
  transports: string;
  /** `singleDevice` or `multiDevice` (a synced passkey). */
  device_type: string;
  backed_up: boolean;
  name: string;
  created_at: Timestamp;
  last_used_at: Timestamp | null;
}

export type PendingPurpose = 'cookie' | 'token';

export interface MfaPendingTable {
  id: string;
  user_id: string;
  token_hash: string;
  purpose: PendingPurpose;
  failures: ColumnType<number, number | undefined, number>;
  /** The WebAuthn challenge of the passkey second step, once asked for. */
  challenge: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
}

export interface WebauthnChallengesTable {
  challenge: string;
  user_id: string | null;
  purpose: 'register' | 'login';
  expires_at: Timestamp;
}

export type UserRow = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type SessionRow = Selectable<SessionsTable>;
export type EmailTokenRow = Selectable<EmailTokensTable>;
export type MailRow = Selectable<MailOutboxTable>;

/** Anything a repository function can run on: the database or an open transaction. */
export type Queryable = Kysely<Database> | Transaction<Database>;
