import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  preHandlerAsyncHookHandler,
} from 'fastify';
import fp from 'fastify-plugin';
import {
  type AuthResult,
  hasPermission,
  hasRole,
  LatchkeyGuard,
  type LatchkeyOptions,
  type LatchkeyUser,
  problem,
  refusal,
} from './index.js';

export type { LatchkeyOptions, LatchkeyUser } from './index.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the `latchkey` plugin: the signed-in user, or null. */
    user: LatchkeyUser | null;
    /** Set by the `latchkey` plugin: the full result (why there is no user). */
    latchkey: AuthResult | null;
  }
  interface FastifyInstance {
    latchkeyGuard: LatchkeyGuard;
  }
}

/**
 * `app.register(latchkey, { issuer, audience })`: every request gets `request.user` (null when
 * anonymous) from a bearer JWT (verified locally) or Latchkey's session cookie (checked with
 * the service). Protect routes with `preHandler: requireAuth()` / `requireRole()` / `requirePermission()`.
 */
export const latchkey = fp(
  async (app: FastifyInstance, options: LatchkeyOptions) => {
    const guard = new LatchkeyGuard(options);
    app.decorate('latchkeyGuard', guard);
    app.decorateRequest('user', null);
    app.decorateRequest('latchkey', null);
    app.addHook('onRequest', async (request) => {
      const result = await guard.authenticate(request);
      request.latchkey = result;
      request.user = result.kind === 'user' ? result.user : null;
    });
  },
  { name: '@latchkey/guard', fastify: '5.x' },
);

function guarded(
  check: (request: FastifyRequest) => boolean,
  detail: string,
): preHandlerAsyncHookHandler {
  return async function (request: FastifyRequest, reply: FastifyReply) {
    if (!request.latchkey) {
      throw new Error('@latchkey/guard: register the latchkey plugin before using requireAuth()');
    }
    const refused = refusal(request.latchkey);
    const [status, body, headers] = refused
      ? [refused.problem.status, refused.problem, refused.headers]
      : check(request)
        ? [0, undefined, {}]
        : [403, problem(403, 'forbidden', detail), {}];
    if (!body) return;
    return reply
      .status(status)
      .headers(headers)
      .type('application/problem+json')
      .serializer(JSON.stringify)
      .send(body);
  };
}

/** 401 problem+json without a signed-in user (403 `csrf_failed`, 503 when Latchkey is down). */
export function requireAuth(): preHandlerAsyncHookHandler {
  return guarded(() => true, '');
}

/** 403 `forbidden` unless the user has one of `roles`. */
export function requireRole(...roles: string[]): preHandlerAsyncHookHandler {
  return guarded(
    (request) => hasRole(request.user, roles),
    `This needs the role ${roles.join(' or ')}.`,
  );
}

/** 403 `forbidden` unless the user's roles grant every permission (`admin` grants all). */
export function requirePermission(...permissions: string[]): preHandlerAsyncHookHandler {
  return guarded(
    (request) =>
      hasPermission(
        request.user,
        permissions,
        request.server.latchkeyGuard.options.rolePermissions,
      ),
    `This needs the permission ${permissions.join(' and ')}.`,
  );
}
