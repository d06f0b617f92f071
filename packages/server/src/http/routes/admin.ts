import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Actor, AdminService } from '../../core/admin.js';
import { type MfaPolicy, requirePermissions } from '../plugins/permissions.js';
import { currentSession, requestContext } from '../plugins/session.js';
import * as s from '@latchkey/contract';

/**
 * The admin API. Deny by default: every route here declares the permission it needs
 * (`config.permission`); see http/plugins/permissions.ts.
 */
export const adminRoutes: FastifyPluginAsyncZod<{ admin: AdminService; mfa: MfaPolicy }> = async (
  app,
  { admin, mfa },
) => {
  requirePermissions(app, admin, mfa);
  const problems = {
    400: s.problem,
    401: s.problem,
    403: s.problem,
    404: s.problem,
    409: s.problem,
  };
  const actor = (request: Parameters<typeof currentSession>[0]): Actor => ({
    id: currentSession(request).user.id,
    via: 'api',
  });
  const tags = ['admin'];

  app.get(
    '/admin/users',
    {
      config: { permission: 'users:read' },
      schema: {
        tags,
        summary: 'List users, newest first: email-prefix search, filters, cursor pagination',
        querystring: s.adminUsersQuery,
        response: { 200: s.adminUsersResponse, ...problems },
      },
    },
    async (request) => admin.listUsers(request.query),
  );

  app.get(
    '/admin/users/:id',
    {
      config: { permission: 'users:read' },
      schema: {
        tags,
        summary: 'One user with their live sessions',
        params: s.userIdParams,
        response: { 200: s.adminUserDetail, ...problems },
      },
    },
    async (request) => admin.getUser(request.params.id),
  );

  app.patch(
    '/admin/users/:id',
    {
      config: { permission: 'users:write' },
      schema: {
        tags,
        summary: 'Disable or enable, set the roles (also needs roles:write), rename',
        description:
          'Disabling ends every session and refresh family at once; sign-in then answers 401 invalid_credentials. 409 last_admin when no enabled admin would be left; 409 cannot_change_self when disabling yourself; 403 cannot_change_own_roles for your own roles; 403 insufficient_privilege when the user holds a permission you lack, or a role given grants one.',
        params: s.userIdParams,
        body: s.adminUserPatch,
        response: { 200: s.adminUserResponse, ...problems },
      },
    },
    async (request, reply) => {
      const user = await admin.updateUser(
        actor(request),
        request.params.id,
        request.body,
        requestContext(request, reply),
      );
      return { user };
    },
  );

  app.delete(
    '/admin/users/:id',
    {
      config: { permission: 'users:write' },
      schema: {
        tags,
        summary: 'Delete the user and everything of theirs (the audit trail stays)',
        params: s.userIdParams,
        response: { 204: s.noContent, ...problems },
      },
    },
    async (request, reply) => {
      await admin.deleteUser(actor(request), request.params.id, requestContext(request, reply));
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/admin/users/:id/revoke-sessions',
    {
      config: { permission: 'sessions:revoke' },
      schema: {
        tags,
        summary: 'Sign the user out everywhere (sessions and refresh tokens)',
        params: s.userIdParams,
        response: { 204: s.noContent, ...problems },
      },
    },
    async (request, reply) => {
      await admin.revokeSessions(actor(request), request.params.id, requestContext(request, reply));
      return reply.status(204).send(null);
    },
  );

  app.delete(
    '/admin/users/:id/mfa',
    {
      config: { permission: 'users:write' },
      schema: {
        tags,
        summary: "Remove the user's second factors (lost phone): app, recovery codes, passkeys",
        description:
          'The next sign-in needs only the password. Audited as admin.mfa_removed; the user is mailed.',
        params: s.userIdParams,
        response: { 204: s.noContent, ...problems },
      },
    },
    async (request, reply) => {
      await admin.removeSecondFactors(
        actor(request),
        request.params.id,
        requestContext(request, reply),
      );
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/admin/users/:id/reset-password',
    {
      config: { permission: 'users:write' },
      schema: {
        tags,
        summary:
          'Force a password reset: the password stops working, sessions end, a link is mailed',
        params: s.userIdParams,
        response: { 202: s.message, ...problems },
      },
    },
    async (request, reply) => {
      await admin.forcePasswordReset(
        actor(request),
        request.params.id,
        requestContext(request, reply),
      );
      return reply
        .status(202)
        .send({ message: 'A password reset link is on its way to the user.' });
    },
  );

  app.get(
    '/admin/roles',
    {
      config: { permission: 'users:read' },
      schema: {
        tags,
        summary: 'The roles with their permissions, and every permission',
        response: { 200: s.rolesResponse, ...problems },
      },
    },
    async () => admin.listRoles(),
  );

  app.post(
    '/admin/roles',
    {
      config: { permission: 'roles:write' },
      schema: {
        tags,
        summary: 'Create a custom role with some of the permissions',
        body: s.createRoleBody,
        response: { 201: s.roleResponse, ...problems },
      },
    },
    async (request, reply) => {
      const role = await admin.createRole(
        actor(request),
        request.body,
        requestContext(request, reply),
      );
      return reply.status(201).send({ role });
    },
  );

  app.get(
    '/admin/audit-events',
    {
      config: { permission: 'audit:read' },
      schema: {
        tags,
        summary: 'The audit trail, newest first: filters by user, type and time, cursor pagination',
        querystring: s.auditEventsQuery,
        response: { 200: s.auditEventsResponse, ...problems },
      },
    },
    async (request) => {
      const q = request.query;
      return admin.auditEvents({
        userId: q.userId,
        types: q.type
          ?.split(',')
          .map((t) => t.trim())
          .filter(Boolean),
        from: q.from ? new Date(q.from) : undefined,
        to: q.to ? new Date(q.to) : undefined,
        cursor: q.cursor,
        limit: q.limit,
      });
    },
  );
};

/** GET /auth/activity: the signed-in user's own recent security events. */
export const activityRoutes: FastifyPluginAsyncZod<{ admin: AdminService }> = async (
  app,
  { admin },
) => {
  app.get(
    '/auth/activity',
    {
      preHandler: app.requireSession,
      schema: {
        tags: ['account'],
        summary: 'Your recent security events (sign-ins, failed attempts, changes), newest first',
        querystring: s.activityQuery,
        response: { 200: s.activityResponse, 400: s.problem, 401: s.problem },
      },
    },
    async (request) =>
      admin.activity(currentSession(request).user.id, request.query.cursor, request.query.limit),
  );
};
