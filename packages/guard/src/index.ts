import { createHash } from 'node:crypto';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';

/**
 * The framework-free part of the guard: who is asking, from an `Authorization: Bearer` access
 * token (verified here against Latchkey's JWKS) or from Latchkey's session cookie (asked of the
 * service's `GET /auth/me`, with a short cache). `./express` and `./fastify` wrap it.
 */

export interface LatchkeyUser {
  /** The user id (`sub`). */
  id: string;
  roles: string[];
  /** The Latchkey session behind the request (`sid` of a token, or the cookie's session). */
  sessionId: string | null;
  /** How the request authenticated. */
  via: 'bearer' | 'cookie';
  /** Present for cookie requests (from /auth/me); access tokens carry only id and roles. */
  email?: string;
  name?: string | null;
  emailVerified?: boolean;
  /** Cookie requests: the session's CSRF token (checked on state-changing requests). */
  csrfToken?: string;
  /** Bearer requests: the verified claims. */
  claims?: Record<string, unknown>;
}

export interface LatchkeyOptions {
  /** Latchkey's PUBLIC_URL: the `iss` of its tokens, and where the service is asked. */
  issuer: string;
  /** The `aud` your access tokens carry (ACCESS_TOKEN_AUDIENCE; defaults to the issuer). */
  audience?: string;
  /** Where to reach the service when not at `issuer` (e.g. http://latchkey:3000 inside a cluster). */
  serviceUrl?: string;
  /** Defaults to `<serviceUrl>/.well-known/jwks.json`. */
  jwksUrl?: string;
  /**
   * How long a session cookie's answer from /auth/me is reused. A session revoked at Latchkey
   * is refused here at most this long after. Default 5 s; 0 asks every time.
   */
  sessionCacheSeconds?: number;
  /**
   * Also ask the service about bearer tokens (cached like cookies), so that a revoked session's
   * token stops at once instead of when it expires (at most 10 minutes). Default false: bearer
   * tokens are verified locally only.
   */
  checkBearerSession?: boolean;
  /** Tolerated clock skew on `exp`/`iat`, in seconds. Default 30. */
  clockToleranceSeconds?: number;
  /** Permissions of each role, for `requirePermission`; the `admin` role has every permission. */
  rolePermissions?: Record<string, string[]>;
  /**
   * Cookie requests that change state (POST, PUT, PATCH, DELETE) must carry `X-CSRF-Token` equal
   * to the session's CSRF token (from login or GET /auth/me), as at Latchkey. Default true.
   */
  csrf?: boolean;
  /** For tests and unusual runtimes. */
  fetch?: typeof fetch;
}

/** What the guard found: a user, nobody, or a reason to refuse. */
export type AuthResult =
  | { kind: 'user'; user: LatchkeyUser }
  | { kind: 'anonymous' }
  | { kind: 'invalid_token' }
  | { kind: 'csrf_failed'; user: LatchkeyUser }
  | { kind: 'unavailable' };

export interface RequestLike {
  method: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
}

export const SESSION_COOKIE_NAMES = ['__Host-latchkey_session', 'latchkey_session'];
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function problem(status: number, code: string, detail: string): Problem {
  const titles: Record<number, string> = {
    401: 'Unauthorized',
    403: 'Forbidden',
    503: 'Service Unavailable',
  };
  return {
    type: `urn:latchkey:problem:${code}`,
    title: titles[status] ?? 'Error',
    status,
    detail,
    code,
  };
}

/** The answer `requireAuth` gives for a result without a user, or undefined when there is one. */
export function refusal(
  result: AuthResult,
): { problem: Problem; headers: Record<string, string> } | undefined {
  switch (result.kind) {
    case 'user':
      return undefined;
    case 'anonymous':
      return {
        problem: problem(401, 'unauthenticated', 'Sign in to continue.'),
        headers: { 'www-authenticate': 'Bearer' },
      };
    case 'invalid_token':
      return {
        problem: problem(
          401,
          'unauthenticated',
          'The access token is invalid, expired or revoked: refresh it or sign in again.',
        ),
        headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
      };
    case 'csrf_failed':
      return {
        problem: problem(
          403,
          'csrf_failed',
          'Missing or wrong X-CSRF-Token header: send the csrfToken from login or GET /auth/me.',
        ),
        headers: {},
      };
    case 'unavailable':
      return {
        problem: problem(
          503,
          'auth_unavailable',
          'The authentication service cannot be reached. Try again in a moment.',
        ),
        headers: { 'retry-after': '5' },
      };
  }
}

export function hasRole(user: LatchkeyUser | null | undefined, roles: string[]): boolean {
  return !!user && roles.some((role) => user.roles.includes(role));
}

export function hasPermission(
  user: LatchkeyUser | null | undefined,
  permissions: string[],
  rolePermissions: Record<string, string[]> = {},
): boolean {
  if (!user) return false;
  if (user.roles.includes('admin')) return true;
  const granted = new Set(user.roles.flatMap((role) => rolePermissions[role] ?? []));
  return permissions.every((p) => granted.has(p));
}

function header(request: RequestLike, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Latchkey's session cookie from a Cookie header (only it is ever sent on to the service). */
export function sessionCookie(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(';')) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    const name = part.slice(0, index).trim();
    if (SESSION_COOKIE_NAMES.includes(name)) return `${name}=${part.slice(index + 1).trim()}`;
  }
  return undefined;
}

interface CacheEntry {
  expires: number;
  value: Promise<AuthResult>;
}

/** The guard shared by the Express and Fastify adapters. */
export class LatchkeyGuard {
  readonly options: Required<
    Pick<
      LatchkeyOptions,
      'issuer' | 'audience' | 'sessionCacheSeconds' | 'clockToleranceSeconds' | 'csrf'
    >
  > &
    LatchkeyOptions;
  private readonly jwks: JWTVerifyGetKey;
  private readonly serviceUrl: string;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly fetch: typeof fetch;

  constructor(options: LatchkeyOptions) {
    const issuer = options.issuer.replace(/\/$/, '');
    this.options = {
      ...options,
      issuer,
      audience: options.audience ?? issuer,
      sessionCacheSeconds: options.sessionCacheSeconds ?? 5,
      clockToleranceSeconds: options.clockToleranceSeconds ?? 30,
      csrf: options.csrf ?? true,
    };
    this.serviceUrl = (options.serviceUrl ?? issuer).replace(/\/$/, '');
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    // jose caches the key set and fetches it again on an unknown kid (key rotation).
    this.jwks = createRemoteJWKSet(
      new URL(options.jwksUrl ?? `${this.serviceUrl}/.well-known/jwks.json`),
      { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 },
    );
  }

  /** Who is asking. Never throws for a bad credential: that is a result. */
  async authenticate(request: RequestLike): Promise<AuthResult> {
    const authorization = header(request, 'authorization');
    if (authorization !== undefined && /^bearer\s/i.test(authorization)) {
      return this.fromBearer(authorization.slice(7).trim());
    }
    const cookie = sessionCookie(header(request, 'cookie'));
    if (!cookie) return { kind: 'anonymous' };
    const result = await this.askService({ cookie });
    if (result.kind !== 'user') return result.kind === 'invalid_token' ? anonymous : result;
    if (this.options.csrf && UNSAFE_METHODS.has(request.method.toUpperCase())) {
      const sent = header(request, 'x-csrf-token');
      if (!sent || !constantTimeEqual(sent, result.user.csrfToken ?? '')) {
        return { kind: 'csrf_failed', user: result.user };
      }
    }
    return result;
  }

  private async fromBearer(token: string): Promise<AuthResult> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.jwks, {
        algorithms: ['EdDSA'],
        issuer: this.options.issuer,
        audience: this.options.audience,
        typ: 'at+jwt',
        clockTolerance: this.options.clockToleranceSeconds,
        requiredClaims: ['sub', 'sid', 'exp', 'iat'],
      }));
    } catch (error) {
      // The JWKS could not be fetched: not the client's fault.
      if (error instanceof joseErrors.JOSEError && error.code === 'ERR_JWKS_TIMEOUT') {
        return { kind: 'unavailable' };
      }
      if (error instanceof joseErrors.JOSEError) return { kind: 'invalid_token' };
      if (error instanceof TypeError) return { kind: 'unavailable' }; // fetch failed
      throw error;
    }
    const roles = Array.isArray(payload.roles)
      ? payload.roles.filter((r): r is string => typeof r === 'string')
      : [];
    if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string') {
      return { kind: 'invalid_token' };
    }
    if (this.options.checkBearerSession) {
      const asked = await this.askService({ authorization: `Bearer ${token}` });
      if (asked.kind !== 'user') return asked.kind === 'anonymous' ? invalidToken : asked;
    }
    return {
      kind: 'user',
      user: { id: payload.sub, roles, sessionId: payload.sid, via: 'bearer', claims: payload },
    };
  }

  /** GET /auth/me with the credential, cached for `sessionCacheSeconds` (and de-duplicated). */
  private askService(credential: { cookie: string } | { authorization: string }) {
    const key = createHash('sha256').update(JSON.stringify(credential)).digest('base64url');
    const now = Date.now();
    const cached = this.cache.get(key);
    if (cached && cached.expires > now) return cached.value;
    const value = this.fetchMe(credential);
    const ttl = this.options.sessionCacheSeconds * 1000;
    if (ttl > 0) {
      if (this.cache.size >= 10_000) this.evict(now);
      this.cache.set(key, { expires: now + ttl, value });
      // An outage is not remembered: the next request asks again.
      void value.then((r) => r.kind === 'unavailable' && this.cache.delete(key));
    }
    return value;
  }

  private async fetchMe(
    credential: { cookie: string } | { authorization: string },
  ): Promise<AuthResult> {
    let res: Response;
    try {
      res = await this.fetch(`${this.serviceUrl}/auth/me`, {
        headers: { accept: 'application/json', ...credential },
        signal: AbortSignal.timeout(5000),
      });
    } catch {
      return { kind: 'unavailable' };
    }
    if (res.status === 401) {
      await res.body?.cancel();
      return 'cookie' in credential ? anonymous : invalidToken;
    }
    if (!res.ok) {
      await res.body?.cancel();
      return { kind: 'unavailable' };
    }
    const body = (await res.json()) as {
      user: {
        id: string;
        email: string;
        name: string | null;
        emailVerified: boolean;
        roles: string[];
      };
      csrfToken: string | null;
    };
    return {
      kind: 'user',
      user: {
        id: body.user.id,
        email: body.user.email,
        name: body.user.name,
        emailVerified: body.user.emailVerified,
        roles: body.user.roles,
        sessionId: null,
        via: 'cookie',
        ...(body.csrfToken ? { csrfToken: body.csrfToken } : {}),
      },
    };
  }

  private evict(now: number) {
    for (const [key, entry] of this.cache) if (entry.expires <= now) this.cache.delete(key);
    // Still full of live entries: drop the oldest (Map keeps insertion order).
    while (this.cache.size >= 10_000) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
  }
}

const anonymous: AuthResult = { kind: 'anonymous' };
const invalidToken: AuthResult = { kind: 'invalid_token' };

function constantTimeEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  let diff = a.length === b.length ? 0 : 1;
  for (let i = 0; i < left.length; i++) diff |= (left[i] as number) ^ (right[i] as number);
  return diff === 0;
}
export { verifyWebhook, WebhookVerificationError, type WebhookEvent } from './webhooks.js';
