import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Permission } from '../../core/admin-views.js';
import type { AuthenticatedSession } from '../../core/request.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The permission an `/admin` route needs (http/plugins/permissions.ts). */
    permission?: Permission;
  }
}

export interface PermissionResolver {
  permissionsOf(roles: string[]): Promise<Set<string>>;
}

/** MFA_REQUIRED_ROLES (core/mfa.ts). */
export interface MfaPolicy {
  enrollmentRequired(
    who: AuthenticatedSession,
    permission: string,
    permissionsOf: (roles: string[]) => Promise<Set<string>>,
  ): Promise<boolean>;
}

/**
 * Deny by default for a scope of routes (the admin API): every route registered in it must
 * declare `config.permission`, or the app refuses to start; every request needs a session
 * (cookie + CSRF, or bearer: 401 without) whose roles grant that permission (403 otherwise),
 * and, for a permission of a role in MFA_REQUIRED_ROLES, a session signed in with a second
 * factor (403 `mfa_enrollment_required` otherwise).
 */
export function requirePermissions(
  app: FastifyInstance,
  rbac: PermissionResolver,
  mfa: MfaPolicy,
): void {
  app.addHook('onRoute', (route) => {
    if (route.method === 'HEAD' || route.method === 'OPTIONS') return;
    if (!route.config?.permission) {
      throw new Error(`${String(route.method)} ${route.url} declares no permission`);
    }
  });
  app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    await app.requireSession(request, reply);
    if (reply.sent) return reply;
    const needed = request.routeOptions.config.permission;
    const session = request.session;
    const granted = session ? await rbac.permissionsOf(session.user.roles) : new Set<string>();
    if (!needed || !granted.has(needed)) {
      return app.refuse(request, reply, {
        code: 'forbidden',
        detail: needed
          ? `This needs the ${needed} permission, which your roles do not grant.`
          : 'Not allowed.',
        ...(needed ? { data: { permission: needed } } : {}),
      });
    }
    // A role that must sign in with a second factor lends its permissions only to sessions
    // that did.
    if (session && (await mfa.enrollmentRequired(session, needed, (r) => rbac.permissionsOf(r)))) {
      return app.refuse(request, reply, {
        code: 'mfa_enrollment_required',
        detail:
          'Your role needs two-step sign-in: set up an authenticator app or a passkey on your account page, then sign in with it.',
        data: { permission: needed },
      });
    }
  });
}
