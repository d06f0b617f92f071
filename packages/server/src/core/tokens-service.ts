import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../store/audit.js';
import {
  exchangeRefreshToken,
  findRefreshTokenByHash,
  insertRefreshToken,
  revokeSessionRefreshTokens,
} from '../store/refresh-tokens.js';
import type { Database, Queryable } from '../store/schema.js';
import {
  findSessionById,
  revokeSession,
  type SessionWithUser,
  touchSession,
} from '../store/sessions.js';
import type { UserWithRoles } from '../store/users.js';
import { addSeconds, type Clock } from './clock.js';
import { AuthError } from './errors.js';
import { uuidv7 } from '../store/ids.js';
import { ACCESS_TOKEN_ALG, type SigningKey, type SigningKeyStore, signJws } from './keys.js';
import { isSessionActive, type SessionTimeouts, slideIdleExpiry } from './sessions.js';
import { type AuthenticatedSession, type RequestContext, toPublicUser } from './request.js';
import type { SecondStepMethod } from './factors.js';
import type { SecondStep } from './second-step.js';
import type { SessionCache } from './session-cache.js';
import { parseAmr, type SessionIssuer } from './session-issuer.js';
import { emitSessionsRevoked, emitWebhookEvent } from './webhooks.js';
import { generateToken, hashToken, isWellFormedToken, successorToken } from './tokens.js';

/** What POST /auth/token and /auth/refresh answer. */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

/** POST /auth/token for an account with a second factor: finish at POST /auth/token/mfa. */
export interface MfaRequired {
  mfaRequired: true;
  methods: SecondStepMethod[];
  mfaToken: string;
}

/** The claims of a verified access token. */
export interface AccessTokenClaims {
  sub: string;
  sid: string;
  roles: string[];
  /** How the session signed in (RFC 8176); empty in tokens from before second factors. */
  amr: string[];
  iat: number;
  exp: number;
}

/** `typ` of our access tokens (RFC 9068): a token of another kind is never taken for one. */
export const ACCESS_TOKEN_TYPE = 'at+jwt';
/** Clock skew tolerated on `exp`/`iat`/`nbf`. */
export const CLOCK_LEEWAY_SECONDS = 30;

export const invalidRefreshToken = () =>
  new AuthError(
    'invalid_refresh_token',
    401,
    'The refresh token is invalid, expired or revoked. Sign in again.',
  );

export interface TokenServiceOptions {
  db: Kysely<Database>;
  /** The password check of the cookie login (AuthService.verifyCredentials). */
  verifyCredentials: (
    input: { email: string; password: string },
    ctx: RequestContext,
  ) => Promise<UserWithRoles>;
  /** Starts the second step of an account with a factor (core/second-step.ts). */
  secondStep?: Pick<SecondStep, 'begin'> | undefined;
  /** Opens the session behind a token pair, as every sign-in does. */
  sessionIssuer: SessionIssuer;
  /** The cookie sessions' cache of validated sessions, shared by bearer verification. */
  sessionCache?: SessionCache | undefined;
  keys: SigningKeyStore;
  clock: Clock;
  issuer: string;
  audience: string;
  accessTtlSeconds: number;
  reuseGraceSeconds: number;
  sessions: SessionTimeouts;
  /** Derives each refresh token's successor from it (`successorToken`). */
  successorKey: Buffer;
}

/** A used token presented again within the grace window: its exchange is answered again. */
type RefreshOutcome =
  { kind: 'again'; found: SessionWithUser; usedAt: Date } | { kind: 'invalid' } | { kind: 'reuse' };

/**
 * Token mode: access JWTs (EdDSA, short-lived) and opaque refresh tokens rotated on every use.
 * Every token pair belongs to a server-side session; revoking the session (logout, reset,
 * disable, "sign out everywhere") ends its refresh family, and reuse of an old refresh token
 * outside the grace window revokes both.
 */
export class TokenService {
  /** Access tokens whose signature was verified already (bounded; see `verifyCached`). */
  private readonly verified = new Map<string, { claims: AccessTokenClaims; kid: string }>();

  constructor(private readonly o: TokenServiceOptions) {}

  /**
   * POST /auth/token: the same credential checks as the cookie login, then a new session, or,
   * for an account with a second factor, the `mfaToken` of its pending sign-in.
   */
  async issue(
    input: { email: string; password: string },
    ctx: RequestContext,
  ): Promise<TokenPair | MfaRequired> {
    const user = await this.o.verifyCredentials(input, ctx);
    const pending = await this.o.secondStep?.begin(user, 'token', ctx);
    if (pending) return { mfaRequired: true, methods: pending.methods, mfaToken: pending.token };
    return this.issueFor(user, ctx, { amr: ['pwd'] });
  }

  /** A token pair on a new session for a user whose every sign-in step succeeded. */
  async issueFor(
    user: UserWithRoles,
    ctx: RequestContext,
    how: { amr: string[] },
  ): Promise<TokenPair> {
    const now = this.o.clock();
    const refreshToken = generateToken();
    const sessionId = await this.o.db.transaction().execute(async (trx) => {
      // A token session has no cookie: the cookie token it gets is dropped here, unsent.
      const { sessionId, expiry } = await this.o.sessionIssuer.open(
        trx,
        user.id,
        ctx,
        now,
        { method: 'token' },
        { amr: how.amr, user: toPublicUser(user) },
      );
      await insertRefreshToken(trx, {
        id: uuidv7(now.getTime()),
        family_id: uuidv7(now.getTime()),
        session_id: sessionId,
        user_id: user.id,
        parent_id: null,
        token_hash: hashToken(refreshToken),
        created_at: now,
        expires_at: expiry.idleExpiresAt,
      });
      return sessionId;
    });
    return this.pair(user, sessionId, how.amr, refreshToken, now, await this.o.keys.currentKey());
  }

  /**
   * POST /auth/refresh. The usual exchange is one statement that claims the token only if it is
   * still unused (`exchangeRefreshToken`): no transaction, no lock held while the new pair is
   * signed. The successor is derived from the token itself (`successorToken`), so a token
   * already used — a racing tab, a retry, or a thief — is judged under a row lock by
   * `refreshUsed`, which can answer the same pair again within the grace window.
   */
  async refresh(refreshToken: string, ctx: RequestContext): Promise<TokenPair> {
    if (!isWellFormedToken(refreshToken)) throw invalidRefreshToken();
    const tokenHash = hashToken(refreshToken);
    const key = await this.o.keys.currentKey();
    const now = this.o.clock();
    const successor = successorToken(this.o.successorKey, refreshToken);
    const claimed = await exchangeRefreshToken(this.o.db, {
      tokenHash,
      now,
      successor: {
        id: uuidv7(now.getTime()),
        tokenHash: hashToken(successor),
        idleExpiresAt: addSeconds(now, this.o.sessions.idleTimeoutSeconds),
      },
    });
    if (!claimed) return this.refreshUsed(refreshToken, tokenHash, key, ctx);
    // The claim checked the session's revocation; expiry, the disabled flag and the roles come
    // from the session cache, under the same rules as a bearer request.
    const found = await this.sessionById(claimed.session_id);
    // A session past its expiry, or a disabled user: the claimed token and its successor are
    // dead with the session, and a second attempt is refused the same way (never as a reuse).
    if (!found || found.user.id !== claimed.user_id || !this.isLive(found, now)) {
      throw invalidRefreshToken();
    }
    // Refreshing is activity: it slides the session's idle expiry like a cookie request.
    const touch = slideIdleExpiry(
      {
        lastSeenAt: found.session.last_seen_at,
        absoluteExpiresAt: found.session.absolute_expires_at,
      },
      now,
      this.o.sessions,
    );
    if (touch) {
      await touchSession(this.o.db, found.session.id, touch);
      found.session.last_seen_at = touch.lastSeenAt; // the cached copy slides too
      found.session.idle_expires_at = touch.idleExpiresAt;
    }
    return this.sessionPair(found, successor, now, key);
  }

  /**
   * A token that was not exchanged, with its row locked (`FOR UPDATE`) so that concurrent
   * attempts — on one instance or many — take turns: within the grace window a used token gets
   * the pair of its exchange again (the same successor, the same access token if nothing about
   * the session changed); after it, the whole family and its session end.
   */
  private async refreshUsed(
    refreshToken: string,
    tokenHash: string,
    key: SigningKey,
    ctx: RequestContext,
  ): Promise<TokenPair> {
    const outcome = await this.o.db.transaction().execute(async (trx): Promise<RefreshOutcome> => {
      const now = this.o.clock();
      const row = await findRefreshTokenByHash(trx, tokenHash, { forUpdate: true });
      if (!row || row.revoked_at !== null || row.used_at === null) return { kind: 'invalid' };
      const found = await findSessionById(trx, row.session_id);
      if (!found || !this.isLive(found, now)) return { kind: 'invalid' };
      if (now.getTime() - row.used_at.getTime() <= this.o.reuseGraceSeconds * 1000) {
        return { kind: 'again', found, usedAt: row.used_at };
      }
      // An old token came back: it was stolen, or a client lost track. Either way, nobody
      // can tell the thief from the owner: end the whole family and its session.
      await revokeSessionRefreshTokens(trx, row.session_id, now);
      if (await revokeSession(trx, row.session_id, 'refresh_token_reuse', now)) {
        await emitSessionsRevoked(trx, row.user_id, [row.session_id], 'refresh_token_reuse', now);
      }
      await emitWebhookEvent(
        trx,
        'refresh_token.reused',
        { userId: row.user_id, data: { sessionId: row.session_id, familyId: row.family_id } },
        now,
      );
      await recordAuditEvent(
        trx,
        {
          type: 'refresh_token_reuse',
          userId: row.user_id,
          data: { sessionId: row.session_id, familyId: row.family_id },
          ...ctx,
        },
        now,
      );
      return { kind: 'reuse' };
    });
    if (outcome.kind !== 'again') throw invalidRefreshToken();
    const { found, usedAt } = outcome;
    const successor = successorToken(this.o.successorKey, refreshToken);
    return this.sessionPair(found, successor, usedAt, key);
  }

  /** POST /auth/revoke: ends the token's family and its session. Unknown tokens are ignored. */
  async revoke(refreshToken: string, ctx: RequestContext): Promise<void> {
    if (!isWellFormedToken(refreshToken)) return;
    const now = this.o.clock();
    await this.o.db.transaction().execute(async (trx) => {
      const row = await findRefreshTokenByHash(trx, hashToken(refreshToken), { forUpdate: true });
      if (!row || row.revoked_at !== null) return;
      await this.revokeFamily(trx, row, now);
      await recordAuditEvent(
        trx,
        {
          type: 'logout',
          userId: row.user_id,
          data: { sessionId: row.session_id, method: 'token' },
          ...ctx,
        },
        now,
      );
    });
  }

  /** The claims of a valid access token, or null (bad signature, wrong alg/iss/aud, expired…). */
  async verifyAccessToken(token: string): Promise<AccessTokenClaims | null> {
    try {
      const { payload } = await jwtVerify(
        token,
        async (header) => {
          const key = header.kid ? await this.o.keys.verificationKey(header.kid) : undefined;
          if (!key) throw new joseErrors.JWKSNoMatchingKey();
          return key;
        },
        {
          algorithms: [ACCESS_TOKEN_ALG],
          issuer: this.o.issuer,
          audience: this.o.audience,
          typ: ACCESS_TOKEN_TYPE,
          clockTolerance: CLOCK_LEEWAY_SECONDS,
          currentDate: this.o.clock(),
          requiredClaims: ['sub', 'sid', 'iat', 'exp'],
        },
      );
      return toClaims(payload);
    } catch (error) {
      if (error instanceof joseErrors.JOSEError) return null;
      throw error;
    }
  }

  /**
   * A bearer request to Latchkey itself: a valid token whose session is still live. Unlike a
   * service that verifies locally, Latchkey reads the session, so a revoked one stops at once.
   */
  async authenticateBearer(token: string): Promise<AuthenticatedSession | null> {
    const claims = await this.verifyCached(token);
    if (!claims) return null;
    const found = await this.sessionById(claims.sid);
    if (!found || found.user.id !== claims.sub || !this.isLive(found, this.o.clock())) return null;
    // Bearer requests need no CSRF token and are never shown one.
    return {
      sessionId: found.session.id,
      csrfToken: '',
      user: toPublicUser(found.user),
      amr: parseAmr(found.session.amr),
      authenticatedAt: found.session.authenticated_at,
    };
  }

  /**
   * `verifyAccessToken`, remembering tokens whose signature checked out: a signature stays
   * valid, so a repeated token only needs the checks that depend on time (`exp`, with the same
   * leeway) and on its key still being published (a retired key fails it at once, as before).
   */
  private async verifyCached(token: string): Promise<AccessTokenClaims | null> {
    const hit = this.verified.get(token);
    if (hit) {
      const nowSeconds = this.o.clock().getTime() / 1000;
      if (
        hit.claims.exp + CLOCK_LEEWAY_SECONDS > nowSeconds &&
        (await this.o.keys.verificationKey(hit.kid))
      ) {
        return hit.claims;
      }
      this.verified.delete(token);
    }
    const claims = await this.verifyAccessToken(token);
    if (claims) {
      if (this.verified.size >= 10_000) this.verified.clear();
      this.verified.set(token, { claims, kid: decodeProtectedHeader(token).kid as string });
    }
    return claims;
  }

  /**
   * The session behind an access token: from the session cache when it may answer (the same
   * cache, TTL and cross-instance revocation as cookies), else one indexed lookup. Expiry and
   * the disabled flag are still checked on every answer (`isLive`).
   */
  private async sessionById(sessionId: string): Promise<SessionWithUser | undefined> {
    const cache = this.o.sessionCache;
    const cached = cache?.getById(sessionId);
    if (cached) return cached;
    const generation = cache?.generation ?? 0;
    const found = await findSessionById(this.o.db, sessionId);
    if (found && cache) cache.setById(found, generation);
    return found;
  }

  private isLive(found: SessionWithUser, now: Date): boolean {
    return (
      found.user.disabled_at === null &&
      isSessionActive(
        {
          idleExpiresAt: found.session.idle_expires_at,
          absoluteExpiresAt: found.session.absolute_expires_at,
          revokedAt: found.session.revoked_at,
        },
        now,
      )
    );
  }

  private async revokeFamily(
    trx: Queryable,
    row: { session_id: string; user_id: string },
    now: Date,
  ) {
    await revokeSessionRefreshTokens(trx, row.session_id, now);
    if (await revokeSession(trx, row.session_id, 'token_revoked', now)) {
      await emitSessionsRevoked(trx, row.user_id, [row.session_id], 'token_revoked', now);
    }
  }

  /** The pair of a refresh: the session's user, roles and sign-in methods, as read. */
  private sessionPair(
    found: SessionWithUser,
    refreshToken: string,
    now: Date,
    key: SigningKey,
  ): TokenPair {
    const amr = parseAmr(found.session.amr);
    return this.pair(found.user, found.session.id, amr, refreshToken, now, key);
  }

  private pair(
    user: UserWithRoles,
    sessionId: string,
    amr: string[],
    refreshToken: string,
    now: Date,
    key: SigningKey,
  ): TokenPair {
    const iat = Math.floor(now.getTime() / 1000);
    const accessToken = signJws(key, ACCESS_TOKEN_TYPE, {
      sid: sessionId,
      roles: user.roles,
      amr,
      iss: this.o.issuer,
      aud: this.o.audience,
      sub: user.id,
      iat,
      exp: iat + this.o.accessTtlSeconds,
    });
    return { accessToken, refreshToken, tokenType: 'Bearer', expiresIn: this.o.accessTtlSeconds };
  }
}

function toClaims(payload: JWTPayload): AccessTokenClaims | null {
  const { sub, sid, roles, iat, exp, amr } = payload as JWTPayload & {
    sid?: unknown;
    roles?: unknown;
    amr?: unknown;
  };
  if (typeof sub !== 'string' || typeof sid !== 'string') return null;
  if (typeof iat !== 'number' || typeof exp !== 'number') return null;
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) return null;
  if (!/^[0-9a-f-]{36}$/.test(sid)) return null;
  const methods = Array.isArray(amr) ? amr.filter((m): m is string => typeof m === 'string') : [];
  return { sub, sid, roles, amr: methods, iat, exp };
}
