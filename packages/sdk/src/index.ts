import * as s from '@latchkey/server/schemas';
import type { z } from 'zod';

/**
 * A typed client for the Latchkey API, for browsers and Node. Request and response types come
 * from the server's own zod schemas (`@latchkey/server/schemas`), which also validate answers.
 *
 * - Cookie mode (default, browsers on the same site): the session cookie travels by itself; the
 *   client keeps the CSRF token from login / `me()` and sends it as `X-CSRF-Token`.
 * - Token mode (APIs, mobile, other origins): `login()` gets an access/refresh pair, requests
 *   carry `Authorization: Bearer`, and an expired access token is refreshed once — a single
 *   refresh shared by every request that failed together — and each request retried at most once.
 */

export type User = z.output<typeof s.user>;
export type TokenPair = z.output<typeof s.tokenPair>;
export type Problem = z.output<typeof s.problem>;
export type DeviceSession = z.output<typeof s.deviceSession>;
export type RegisterInput = z.input<typeof s.registerBody>;
export type LoginInput = z.input<typeof s.loginBody>;

/** Stable problem codes of the API (any other string may come from newer servers). */
export type ProblemCode =
  | 'validation_failed'
  | 'weak_password'
  | 'malformed_json'
  | 'invalid_credentials'
  | 'email_not_verified'
  | 'email_taken'
  | 'invalid_token'
  | 'password_required'
  | 'password_mismatch'
  | 'invalid_refresh_token'
  | 'unauthenticated'
  | 'csrf_failed'
  | 'origin_not_allowed'
  | 'rate_limited'
  | 'server_busy'
  | 'shutting_down'
  | 'not_found'
  | 'internal_error'
  | 'network_error'
  | 'invalid_response'
  | (string & {});

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

  constructor(private readonly options: LatchkeyClientOptions) {
    this.mode = options.mode ?? 'cookie';
    this.baseUrl = options.baseUrl.replace(/\/$/, '');
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.tokens = options.tokenStore ?? memoryTokenStore();
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

  /**
   * Any other endpoint (newer routes such as the admin API) with the same credentials, CSRF
   * header, token refresh and errors; `schema` validates the answer (`null` for a 204).
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

export function createClient(options: LatchkeyClientOptions): LatchkeyClient {
  return new LatchkeyClient(options);
}
