import * as s from '@latchkey/contract';
import type { z } from 'zod';

/**
 * A typed client for the Latchkey API, for browsers and Node. Request and response types come
 * from the API's own zod schemas (`@latchkey/contract`, which the server validates and answers
 * with), and the same schemas validate answers.
 *
 * - Cookie mode (default, browsers on the same site): the session cookie travels by itself; the
 *   client keeps the CSRF token from login / `me()` and sends it as `X-CSRF-Token`.
 * - Token mode (APIs, mobile, other origins): `login()` gets an access/refresh pair, requests
 *   carry `Authorization: Bearer`, and an expired access token is refreshed once — a single
 *   refresh shared by every request that failed together — and each request retried at most once.
 */

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
];

/** Any failed call: the HTTP status and the problem document's stable `code`. */
export class LatchkeyError extends Error {
  readonly status: number;
  readonly code: ProblemCode;
  readonly problem: Problem | undefined;
  /** Per-field messages of a 400 `validation_failed` / `weak_password`. */
  readonly fieldErrors: { field: string; message: string }[];
  /** Seconds to wait, from `Retry-After` (429, 503). */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    status: number,
    code: ProblemCode,
    message: string,
    extra: { problem?: Problem; retryAfterSeconds?: number | undefined } = {},
  ) {
    super(message);
    this.name = 'LatchkeyError';
    this.status = status;
    this.code = code;
    this.problem = extra.problem;
    this.fieldErrors = extra.problem?.errors ?? [];
    this.retryAfterSeconds = extra.retryAfterSeconds;
  }
}

/** Where token mode keeps its pair (memory by default; e.g. secure storage on mobile). */
export interface TokenStore {
  get(): TokenPair | undefined | Promise<TokenPair | undefined>;
  set(pair: TokenPair | undefined): void | Promise<void>;
}

export function memoryTokenStore(initial?: TokenPair): TokenStore {
  let pair = initial;
  return {
    get: () => pair,
    set: (next) => {
      pair = next;
    },
  };
}

/**
 * For cookie mode outside a browser (Node scripts, tests): keeps Latchkey's session cookie.
 * Browsers keep it themselves and need none.
 */
export interface CookieJar {
  header(): string | undefined;
  store(setCookie: string[]): void;
}

export function memoryCookieJar(): CookieJar {
  const cookies = new Map<string, string>();
  return {
    header: () =>
      cookies.size ? [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') : undefined,
    store(setCookie) {
      for (const line of setCookie) {
        const [pair = '', ...attributes] = line.split(';');
        const index = pair.indexOf('=');
        if (index < 0) continue;
        const name = pair.slice(0, index).trim();
        const value = pair.slice(index + 1).trim();
        const expired = attributes.some(
          (a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=thu, 01 jan 1970/i.test(a),
        );
        if (expired || value === '') cookies.delete(name);
        else cookies.set(name, value);
      }
    },
  };
}

export interface LatchkeyClientOptions {
  /** Latchkey's address, e.g. https://auth.example.com. */
  baseUrl: string;
  /** `cookie` (default) or `token`. */
  mode?: 'cookie' | 'token';
  fetch?: typeof fetch;
  /** Token mode: where the pair lives (default: memory). */
  tokenStore?: TokenStore;
  /** Cookie mode outside browsers: a jar such as `memoryCookieJar()`. */
  cookieJar?: CookieJar;
  /** Called when the session is over (refresh refused): show the sign-in page. */
  onSessionExpired?: () => void;
  /** Validate answers with the server's schemas (default true). */
  validateResponses?: boolean;
}

interface CallOptions<T> {
  body?: unknown;
  /** The response schema; `null` for 204. */
  schema: z.ZodType<T> | null;
  /** Send credentials (cookie/CSRF or bearer) and refresh on 401 in token mode. */
  auth?: boolean;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export class LatchkeyClient {
  readonly mode: 'cookie' | 'token';
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly tokens: TokenStore;
  private csrfToken: string | undefined;
  private refreshing: Promise<TokenPair> | undefined;

  /** The admin API (`/admin/*`): each method needs a permission of the signed-in user. */
  readonly admin: LatchkeyAdmin;

  constructor(private readonly options: LatchkeyClientOptions) {
    this.mode = options.mode ?? 'cookie';
    this.baseUrl = options.baseUrl.replace(/\/$/, '');
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.tokens = options.tokenStore ?? memoryTokenStore();
    this.admin = new LatchkeyAdmin((method, path, call) =>
      this.call(method, path, { ...call, auth: true }),
    );
  }

  // ---- sign-up and email ----

  register(input: RegisterInput) {
    return this.call('POST', '/auth/register', {
      body: input,
      schema: s.sessionResponse.or(s.message),
    }).then((result) => {
      if ('csrfToken' in result) this.csrfToken = result.csrfToken;
      return result;
    });
  }

  /**
   * A sign-up's link needs `password`, the one chosen at sign-up (`password_required` without
   * it, `password_mismatch` for one no sign-up of the address chose; the link stays usable).
   * Confirming an email change in a signed-in browser gives that session a new cookie and CSRF
   * token: the client forgets its CSRF token and reads the new one before its next change.
   */
  async verifyEmail(input: z.input<typeof s.verifyEmailBody>) {
    const result = await this.call('POST', '/auth/verify-email', {
      body: input,
      schema: s.userResponse,
    });
    this.csrfToken = undefined;
    return result;
  }

  resendVerification(input: z.input<typeof s.emailOnlyBody>) {
    return this.call('POST', '/auth/resend-verification', { body: input, schema: s.message });
  }

  // ---- signing in and out ----

  /**
   * Cookie mode: POST /auth/login (the browser keeps the cookie; the client keeps the CSRF
   * token). Token mode: POST /auth/token, then the user from GET /auth/me.
   */
  async login(input: LoginInput): Promise<{ user: User }> {
    if (this.mode === 'token') {
      await this.token(input);
      const { user } = await this.me();
      return { user };
    }
    const result = await this.call('POST', '/auth/login', {
      body: input,
      schema: s.sessionResponse,
    });
    this.csrfToken = result.csrfToken;
    return { user: result.user };
  }

  /** Signs out: revokes the session (cookie) or the refresh family and its session (token). */
  async logout(): Promise<void> {
    if (this.mode === 'token') {
      await this.revoke();
      return;
    }
    await this.call('POST', '/auth/logout', { schema: null, auth: true });
    this.csrfToken = undefined;
  }

  /** The signed-in user (and, in cookie mode, the CSRF token, which the client keeps). */
  async me() {
    const result = await this.call('GET', '/auth/me', { schema: s.meResponse, auth: true });
    if (result.csrfToken) this.csrfToken = result.csrfToken;
    return result;
  }

  /** Changes the signed-in user's own profile (the display name); returns the updated user. */
  async updateMe(input: z.input<typeof s.updateMeBody>): Promise<User> {
    const { user } = await this.call('PATCH', '/auth/me', {
      body: input,
      schema: s.userResponse,
      auth: true,
    });
    return user;
  }

  // ---- token mode ----

  /** POST /auth/token: a new pair, kept in the token store. */
  async token(input: z.input<typeof s.tokenBody>): Promise<TokenPair> {
    const pair = await this.call('POST', '/auth/token', { body: input, schema: s.tokenPair });
    await this.tokens.set(pair);
    return pair;
  }

  /**
   * POST /auth/refresh with the stored refresh token. Single flight: callers that ask while a
   * refresh is running share it. A refused refresh clears the pair and calls onSessionExpired.
   */
  refresh(): Promise<TokenPair> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** POST /auth/revoke with the stored refresh token, then forgets the pair. */
  async revoke(): Promise<void> {
    const pair = await this.tokens.get();
    await this.tokens.set(undefined);
    if (!pair) return;
    await this.call('POST', '/auth/revoke', {
      body: { refreshToken: pair.refreshToken },
      schema: null,
    });
  }

  /** The stored pair (token mode), e.g. to hand the access token to another service. */
  async currentTokens(): Promise<TokenPair | undefined> {
    return this.tokens.get();
  }

  jwks() {
    return this.call('GET', '/.well-known/jwks.json', { schema: s.jwks });
  }

  // ---- account ----

  forgotPassword(input: z.input<typeof s.emailOnlyBody>) {
    return this.call('POST', '/auth/forgot-password', { body: input, schema: s.message });
  }

  resetPassword(input: z.input<typeof s.resetPasswordBody>) {
    return this.call('POST', '/auth/reset-password', { body: input, schema: null });
  }

  /**
   * Cookie mode: the session continues under a new cookie and CSRF token, so the client forgets
   * its CSRF token and reads the new one (GET /auth/me) before its next change.
   */
  async changePassword(input: z.input<typeof s.changePasswordBody>) {
    await this.call('POST', '/auth/change-password', { body: input, schema: null, auth: true });
    this.csrfToken = undefined;
  }

  changeEmail(input: z.input<typeof s.changeEmailBody>) {
    return this.call('POST', '/auth/change-email', { body: input, schema: s.message, auth: true });
  }

  /** The user's signed-in devices (cookie and token sessions). */
  listSessions() {
    return this.call('GET', '/auth/sessions', { schema: s.sessionsResponse, auth: true });
  }

  revokeSession(id: string) {
    return this.call('DELETE', `/auth/sessions/${encodeURIComponent(id)}`, {
      schema: null,
      auth: true,
    });
  }

  /** "Sign out everywhere else": every session but this one. */
  revokeOtherSessions() {
    return this.call('DELETE', '/auth/sessions', { schema: null, auth: true });
  }

  /** Your own recent security events (sign-ins, failed attempts, changes), newest first. */
  activity(query: ActivityQuery = {}): Promise<ActivityPage> {
    return this.call('GET', `/auth/activity${queryString(query)}`, {
      schema: s.activityResponse,
      auth: true,
    });
  }

  // ---- operations ----

  /** GET /healthz: the process answers. */
  health(): Promise<HealthStatus> {
    return this.call('GET', '/healthz', { schema: s.healthStatus });
  }

  /** GET /readyz: the database (and the other dependencies) answer; else 503 `not_ready`. */
  ready(): Promise<HealthStatus> {
    return this.call('GET', '/readyz', { schema: s.healthStatus });
  }

  /**
   * Any other endpoint (say, one newer than this client) with the same credentials, CSRF header,
   * token refresh and errors; `schema` validates the answer (`null` for a 204).
   */
  request<T>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    options: { body?: unknown; schema: z.ZodType<T> | null },
  ): Promise<T> {
    return this.call(method, path, { ...options, auth: true });
  }

  // ---- plumbing ----

  private async doRefresh(): Promise<TokenPair> {
    const current = await this.tokens.get();
    if (!current) {
      throw new LatchkeyError(401, 'unauthenticated', 'Not signed in: there is no refresh token.');
    }
    try {
      const pair = await this.call('POST', '/auth/refresh', {
        body: { refreshToken: current.refreshToken },
        schema: s.tokenPair,
      });
      await this.tokens.set(pair);
      return pair;
    } catch (error) {
      if (error instanceof LatchkeyError && error.status === 401) {
        await this.tokens.set(undefined);
        this.options.onSessionExpired?.();
      }
      throw error;
    }
  }

  private async call<T>(method: string, path: string, options: CallOptions<T>): Promise<T> {
    if (options.auth && this.mode === 'cookie' && UNSAFE.has(method) && !this.csrfToken) {
      // After a page reload the cookie is there but the CSRF token is not: fetch it first.
      await this.me();
    }
    const sentWith = options.auth && this.mode === 'token' ? await this.tokens.get() : undefined;
    let response = await this.send(method, path, options, sentWith?.accessToken);
    if (response.status === 401 && options.auth && this.mode === 'token' && sentWith) {
      // Another request may have refreshed already: then retry with its token, else refresh.
      const now = await this.tokens.get();
      let next: TokenPair | undefined;
      if (now && now.accessToken !== sentWith.accessToken) next = now;
      else next = await this.refresh().catch(() => undefined);
      if (next) {
        await response.body?.cancel();
        response = await this.send(method, path, options, next.accessToken); // one retry only
      }
    }
    return this.read(response, options.schema);
  }

  private async send(
    method: string,
    path: string,
    options: CallOptions<unknown>,
    accessToken: string | undefined,
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.auth && this.mode === 'token' && accessToken) {
      headers.authorization = `Bearer ${accessToken}`;
    }
    if (this.mode === 'cookie') {
      if (UNSAFE.has(method) && this.csrfToken) headers['x-csrf-token'] = this.csrfToken;
      const cookie = this.options.cookieJar?.header();
      if (cookie) headers.cookie = cookie;
    }
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        ...(this.mode === 'cookie' ? { credentials: 'include' as const } : {}),
      });
    } catch (error) {
      throw new LatchkeyError(0, 'network_error', `Cannot reach ${this.baseUrl}: ${String(error)}`);
    }
    if (this.options.cookieJar) {
      const setCookie = response.headers.getSetCookie?.() ?? [];
      if (setCookie.length) this.options.cookieJar.store(setCookie);
    }
    return response;
  }

  private async read<T>(response: Response, schema: z.ZodType<T> | null): Promise<T> {
    if (!response.ok) throw await toError(response);
    if (schema === null) {
      await response.body?.cancel();
      return undefined as T;
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      throw new LatchkeyError(response.status, 'invalid_response', 'The answer was not JSON.');
    }
    if (this.options.validateResponses === false) return body as T;
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      throw new LatchkeyError(
        response.status,
        'invalid_response',
        `The answer does not match the API schema: ${parsed.error.message}`,
      );
    }
    return parsed.data;
  }
}

async function toError(response: Response): Promise<LatchkeyError> {
  const retryAfter = Number(response.headers.get('retry-after'));
  const retryAfterSeconds = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined;
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const parsed = s.problem.safeParse(body);
  if (parsed.success) {
    return new LatchkeyError(
      response.status,
      parsed.data.code,
      parsed.data.detail ?? parsed.data.title,
      { problem: parsed.data, retryAfterSeconds },
    );
  }
  return new LatchkeyError(response.status, `http_${response.status}`, response.statusText, {
    retryAfterSeconds,
  });
}

type SignedInCall = <T>(
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
}

const userPath = (id: string) => `/admin/users/${encodeURIComponent(id)}`;

/** `?a=1&b=2` from the defined values; booleans as `true`/`false`, dates as ISO 8601. */
type QueryValue = string | number | boolean | Date | string[] | undefined;

function queryString<Q extends { [K in keyof Q]: QueryValue }>(query: Q): string {
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

export function createClient(options: LatchkeyClientOptions): LatchkeyClient {
  return new LatchkeyClient(options);
}
