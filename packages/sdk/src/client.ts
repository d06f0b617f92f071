import * as s from '@latchkey/contract';
import type { z } from 'zod';
import { LatchkeyAdmin, queryString } from './admin.js';
import { LatchkeyError, toError } from './errors.js';
import { LatchkeyMfa, LatchkeyPasskeys, type MfaHost } from './mfa.js';
import { type CookieJar, memoryTokenStore, type TokenStore } from './storage.js';
import type {
  ActivityPage,
  ActivityQuery,
  HealthStatus,
  LoginInput,
  MfaRequired,
  RegisterInput,
  TokenPair,
  User,
} from './types.js';

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
  /** Token mode: the `mfaToken` of a sign-in waiting for its second step. */
  private mfaToken: string | undefined;

  /** The admin API (`/admin/*`): each method needs a permission of the signed-in user. */
  readonly admin: LatchkeyAdmin;
  /** Second factors: the authenticator app, recovery codes, re-authentication, the second step. */
  readonly mfa: LatchkeyMfa;
  /** Passkeys: register, rename, remove, and "Sign in with a passkey". */
  readonly passkeys: LatchkeyPasskeys;

  constructor(private readonly options: LatchkeyClientOptions) {
    this.mode = options.mode ?? 'cookie';
    this.baseUrl = options.baseUrl.replace(/\/$/, '');
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.tokens = options.tokenStore ?? memoryTokenStore();
    this.admin = new LatchkeyAdmin((method, path, call) =>
      this.call(method, path, { ...call, auth: true }),
    );
    const host: MfaHost = {
      signedIn: (method, path, call) => this.call(method, path, { ...call, auth: true }),
      anonymous: (method, path, call) => this.call(method, path, call),
      mode: this.mode,
      pendingToken: () => this.mfaToken,
      signedInWithCookie: (csrfToken) => {
        this.csrfToken = csrfToken;
      },
      signedInWithTokens: async (pair) => {
        this.mfaToken = undefined;
        await this.tokens.set(pair);
      },
    };
    this.mfa = new LatchkeyMfa(host);
    this.passkeys = new LatchkeyPasskeys(host);
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
   * token). Token mode: POST /auth/token, then the user from GET /auth/me. For an account with
   * a second factor the answer is `{ mfaRequired: true, methods }` and no session yet: finish
   * with `client.mfa.verify()`.
   */
  async login(input: LoginInput): Promise<{ user: User } | MfaRequired> {
    if (this.mode === 'token') {
      const answer = await this.token(input);
      if ('mfaRequired' in answer) return answer;
      const { user } = await this.me();
      return { user };
    }
    const result = await this.call('POST', '/auth/login', {
      body: input,
      schema: s.loginResponse,
    });
    if ('mfaRequired' in result) return { mfaRequired: true, methods: result.methods };
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

  /**
   * POST /auth/token: a new pair, kept in the token store; or, for an account with a second
   * factor, `{ mfaRequired: true, methods }` (the client keeps the `mfaToken` for
   * `client.mfa.verify()`).
   */
  async token(input: z.input<typeof s.tokenBody>): Promise<TokenPair | MfaRequired> {
    const answer = await this.call('POST', '/auth/token', {
      body: input,
      schema: s.tokenResponse,
    });
    if ('mfaRequired' in answer) {
      this.mfaToken = answer.mfaToken;
      return { mfaRequired: true, methods: answer.methods };
    }
    await this.tokens.set(answer);
    return answer;
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

export function createClient(options: LatchkeyClientOptions): LatchkeyClient {
  return new LatchkeyClient(options);
}
