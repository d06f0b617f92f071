import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  preHandlerAsyncHookHandler,
} from 'fastify';
import fp from 'fastify-plugin';
import { nodeHeaders, type Rule, refusalFor, rules } from './adapter.js';
import { type AuthResult, Latchkey, type LatchkeyOptions, type LatchkeyUser } from './core.js';

export type { LatchkeyOptions, LatchkeyUser } from './core.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the `latchkey` plugin: the signed-in user, or null. */
    user: LatchkeyUser | null;
    /** Set by the `latchkey` plugin: the full result (why there is no user). */
    latchkey: AuthResult | null;
  }
  interface FastifyInstance {
    latchkeyGuard: Latchkey;
  }
}

/**
 * `app.register(latchkey, { issuer, audience })`: every request gets `request.user` (null when
 * anonymous) from a bearer JWT (verified locally) or Latchkey's session cookie (checked with
 * the service). Protect routes with `preHandler: requireAuth()` / `requireRole()` /
 * `requirePermission()` / `requireMfa()`.
 */
export const latchkey = fp(
  async (app: FastifyInstance, options: LatchkeyOptions) => {
    const guard = new Latchkey(options);
    app.decorate('latchkeyGuard', guard);
    app.decorateRequest('user', null);
    app.decorateRequest('latchkey', null);
    app.addHook('onRequest', async (request) => {
      const result = await guard.verifyRequest({
        method: request.method,
        headers: nodeHeaders(request.headers),
      });
      request.latchkey = result;
      request.user = result.kind === 'user' ? result.user : null;
    });
  },
  { name: '@latchkey/guard', fastify: '5.x' },
);

function guarded(rule: Rule): preHandlerAsyncHookHandler {
  return async function (request: FastifyRequest, reply: FastifyReply) {
    if (!request.latchkey) {
      throw new Error('@latchkey/guard: register the latchkey plugin before using requireAuth()');
    }
    const refused = refusalFor(
      request.latchkey,
      rule,
      () => request.server.latchkeyGuard.options.rolePermissions,
    );
    if (!refused) return;
    return reply
      .status(refused.status)
      .headers(refused.headers)
      .type('application/problem+json')
      .serializer(JSON.stringify)
      .send(refused.body);
  };
}

/** 401 problem+json without a signed-in user (403 `csrf_failed`, 503 when Latchkey is down). */
export function requireAuth(): preHandlerAsyncHookHandler {
  return guarded(rules.auth());
}

/** 403 `forbidden` unless the user has one of `roles`. */
export function requireRole(...roles: string[]): preHandlerAsyncHookHandler {
  return guarded(rules.role(roles));
}

/** 403 `forbidden` unless the user's roles grant every permission (`admin` grants all). */
export function requirePermission(...permissions: string[]): preHandlerAsyncHookHandler {
  return guarded(rules.permission(permissions));
}

/** 403 `mfa_required` unless the session was signed in with a second factor (`hasSecondFactor`). */
export function requireMfa(): preHandlerAsyncHookHandler {
  return guarded(rules.mfa());
}
