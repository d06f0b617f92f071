import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ProblemCode } from '@latchkey/contract';
import type { AuthService } from '../../core/auth.js';
import type { AuthenticatedSession, RequestContext } from '../../core/request.js';
import { errors } from '../../core/errors.js';
import type { RefusedRequest } from '../../core/refused-requests.js';
import { safeEqual } from '../../core/tokens.js';
import { sendProblem } from '../problem.js';

/** A 403: its problem code and message, the user when known, what else explains it. */
export interface Refusal {
  code: ProblemCode;
  detail: string;
  userId?: string;
  data?: Record<string, string>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `requireSession`: the signed-in session behind the cookie. */
    session: AuthenticatedSession | null;
    /** How `requireSession` authenticated the request: session cookie or bearer access token. */
    authMethod: 'cookie' | 'bearer' | null;
  }
  interface FastifyInstance {
    /** preHandler: 401 without a live session; 403 on a state-changing request without CSRF. */
    requireSession: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
    /** Answers 403 with `code` and records the refusal in the audit trail (bounded). */
    refuse: (
      request: FastifyRequest,
      reply: FastifyReply,
      refusal: Refusal,
    ) => Promise<FastifyReply>;
    sessionCookie: {
      name: string;
      read(request: FastifyRequest): string | undefined;
      set(reply: FastifyReply, token: string): void;
      clear(reply: FastifyReply): void;
    };
    /** The pending sign-in between a password and its second step: never a session. */
    pendingCookie: {
      name: string;
      read(request: FastifyRequest): string | undefined;
      set(reply: FastifyReply, token: string): void;
      clear(reply: FastifyReply): void;
    };
  }
}

export interface SessionPluginOptions {
  auth: AuthService;
  /** https deployments: `Secure` cookie with the `__Host-` prefix (`__Secure-` with a Domain). */
  secureCookie: boolean;
  /** Shared with sibling subdomains (COOKIE_DOMAIN); undefined: host-only. */
  cookieDomain?: string | undefined;
  maxAgeSeconds: number;
  /** Lifetime of the pending sign-in cookie (the second step's five minutes). */
  pendingMaxAgeSeconds: number;
  /** Origins allowed to make state-changing requests: PUBLIC_URL's and CORS_ORIGINS. */
  allowedOrigins: string[];
  /** Verifies `Authorization: Bearer` access tokens (token mode, core/tokens-service.ts). */
  bearer?: { authenticateBearer(token: string): Promise<AuthenticatedSession | null> };
  /** Where refused requests are audited (core/refused-requests.ts). */
  refusals?: { record(refusal: RefusedRequest): Promise<unknown> };
}

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Who asks, and a signal that fires if they hang up before the answer is sent. */
export function requestContext(request: FastifyRequest, reply: FastifyReply): RequestContext {
  const hungUp = new AbortController();
  // The response closes either after it was sent or because the connection went away.
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) hungUp.abort();
  });
  return {
    ip: request.ip ?? null,
    userAgent: request.headers['user-agent'] ?? null,
    signal: hungUp.signal,
  };
}

/** The session `requireSession` found; only call from routes that use it as preHandler. */
export function currentSession(request: FastifyRequest): AuthenticatedSession {
  if (!request.session) throw errors.unauthenticated();
  return request.session;
}

/**
 * `__Host-` (https, host-only) binds the cookie to this exact host: no sibling subdomain can set
 * or shadow it. Browsers refuse a `__Host-` cookie with a Domain, so a shared cookie gets
 * `__Secure-` (https only, still never over http).
 */
export function sessionCookieName(secure: boolean, domain: string | undefined): string {
  if (!secure) return 'latchkey_session';
  return domain ? '__Secure-latchkey_session' : '__Host-latchkey_session';
}

export const sessionPlugin = fp(
  async (app: FastifyInstance, opts: SessionPluginOptions) => {
    const name = sessionCookieName(opts.secureCookie, opts.cookieDomain);
    const allowed = new Set(opts.allowedOrigins);
    const cookieOptions = {
      path: '/',
      httpOnly: true,
      sameSite: 'lax' as const,
      secure: opts.secureCookie,
      ...(opts.cookieDomain ? { domain: opts.cookieDomain } : {}),
    };

    // @fastify/cookie is registered with `hook: false`: only the requests that look for the
    // session cookie pay for parsing the Cookie header.
    const read = (request: FastifyRequest): string | undefined => {
      const header = request.headers.cookie;
      return header === undefined ? undefined : app.parseCookie(header)[name];
    };
    app.decorate('sessionCookie', {
      name,
      read,
      set: (reply: FastifyReply, token: string) =>
        void reply.setCookie(name, token, { ...cookieOptions, maxAge: opts.maxAgeSeconds }),
      clear: (reply: FastifyReply) => void reply.clearCookie(name, cookieOptions),
    });
    const pendingName = opts.secureCookie ? '__Host-latchkey_mfa' : 'latchkey_mfa';
    // Strict and host-only: only the service's own second-step page ever needs to send it (and
    // a `__Host-` cookie with a Domain is one browsers refuse).
    const pendingOptions = {
      path: '/',
      httpOnly: true,
      sameSite: 'strict' as const,
      secure: opts.secureCookie,
    };
    app.decorate('pendingCookie', {
      name: pendingName,
      read: (request: FastifyRequest): string | undefined => {
        const header = request.headers.cookie;
        return header === undefined ? undefined : app.parseCookie(header)[pendingName];
      },
      set: (reply: FastifyReply, token: string) =>
        void reply.setCookie(pendingName, token, {
          ...pendingOptions,
          maxAge: opts.pendingMaxAgeSeconds,
        }),
      clear: (reply: FastifyReply) => void reply.clearCookie(pendingName, pendingOptions),
    });
    app.decorateRequest('session', null);
    app.decorateRequest('authMethod', null);

    app.decorate(
      'refuse',
      async (request: FastifyRequest, reply: FastifyReply, refusal: Refusal) => {
        try {
          await opts.refusals?.record({
            reason: refusal.code,
            method: request.method,
            route: request.routeOptions.url ?? null,
            userId: refusal.userId ?? request.session?.user.id ?? null,
            ip: request.ip ?? null,
            userAgent: request.headers['user-agent'] ?? null,
            ...(refusal.data ? { data: refusal.data } : {}),
          });
        } catch (error) {
          // The refusal stands even when the trail cannot take it.
          request.log.error({ err: error }, 'could not audit a refused request');
        }
        return sendProblem(request, reply, 403, refusal.code, refusal.detail);
      },
    );

    // A browser always sends Origin on cross-site POSTs: refusing foreign origins here stops
    // CSRF on every state-changing route, including login and register (login CSRF).
    app.addHook('onRequest', async (request, reply) => {
      if (!UNSAFE_METHODS.has(request.method)) return;
      const origin = request.headers.origin;
      if (origin !== undefined && !allowed.has(origin)) {
        return app.refuse(request, reply, {
          code: 'origin_not_allowed',
          detail:
            'Requests from this origin are not allowed. Add it to CORS_ORIGINS if it is your own front end.',
          data: { origin: origin.slice(0, 200) },
        });
      }
    });

    app.decorate('requireSession', async (request: FastifyRequest, reply: FastifyReply) => {
      // A bearer access token wins over a cookie and needs no CSRF token: a browser never
      // attaches it on its own, so a cross-site request cannot carry it.
      const authorization = request.headers.authorization;
      if (opts.bearer && authorization !== undefined && /^bearer\s/i.test(authorization)) {
        const bearerSession = await opts.bearer.authenticateBearer(authorization.slice(7).trim());
        if (!bearerSession) {
          reply.header('www-authenticate', 'Bearer error="invalid_token"');
          return sendProblem(
            request,
            reply,
            401,
            'unauthenticated',
            'The access token is invalid, expired or revoked: refresh it or sign in again.',
          );
        }
        request.session = bearerSession;
        request.authMethod = 'bearer';
        return;
      }
      const token = read(request);
      const session = token ? await opts.auth.authenticate(token) : null;
      if (!session) {
        if (token) app.sessionCookie.clear(reply);
        return sendProblem(request, reply, 401, 'unauthenticated', 'Sign in to continue.');
      }
      if (UNSAFE_METHODS.has(request.method)) {
        const header = request.headers['x-csrf-token'];
        if (typeof header !== 'string' || !safeEqual(header, session.csrfToken)) {
          return app.refuse(request, reply, {
            code: 'csrf_failed',
            detail:
              'Missing or wrong X-CSRF-Token header: send the csrfToken from login or GET /auth/me.',
            userId: session.user.id,
          });
        }
      }
      request.session = session;
      request.authMethod = 'cookie';
    });
  },
  { name: 'latchkey-session', dependencies: ['@fastify/cookie'] },
);
