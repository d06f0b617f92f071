import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AccountService } from '../../core/account.js';
import type { PerIpLimit } from '../plugins/rate-limit.js';
import { currentSession, requestContext } from '../plugins/session.js';
import * as s from '@latchkey/contract';

const RESET_ACCEPTED =
  'If an account uses this address, a link to choose a new password is on its way. Check your inbox.';
const CHANGE_ACCEPTED =
  'If the new address can receive mail, a confirmation link is on its way: the change happens when you follow it.';

/**
 * Self-service account routes: reset, password and email change, the profile, signed-in devices.
 */
export const accountRoutes: FastifyPluginAsyncZod<{
  account: AccountService;
  perIpLimit: PerIpLimit;
}> = async (app, { account, perIpLimit }) => {
  const problems = {
    400: s.problem,
    401: s.problem,
    403: s.problem,
    404: s.problem,
    429: s.problem,
    503: s.problem,
  };

  app.post(
    '/auth/forgot-password',
    {
      config: {
        rateLimit: perIpLimit('forgot'),
        accountLimit: { rule: 'forgot', field: 'email' },
      },
      schema: {
        tags: ['account'],
        summary: 'Mail a password reset link (always 202)',
        description:
          'Same answer whether or not the address has an account; the mail is queued, never sent inline.',
        body: s.emailOnlyBody,
        response: { 202: s.message, ...problems },
      },
    },
    async (request, reply) => {
      await account.forgotPassword(request.body.email, requestContext(request, reply));
      return reply.status(202).send({ message: RESET_ACCEPTED });
    },
  );

  app.post(
    '/auth/reset-password',
    {
      config: {
        rateLimit: perIpLimit('reset'),
      },
      schema: {
        tags: ['account'],
        summary: 'Set a new password with the token from the reset mail',
        description:
          'Single use. Signs the user out everywhere, marks the address verified and mails a notice. 400 invalid_token for an unknown, used, expired or malformed token; 400 weak_password leaves the token usable.',
        body: s.resetPasswordBody,
        response: { 204: s.noContent, ...problems },
      },
    },
    async (request, reply) => {
      await account.resetPassword(request.body, requestContext(request, reply));
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/auth/change-password',
    {
      preHandler: app.requireSession,
      schema: {
        tags: ['account'],
        summary: 'Change the password; signs out every other session',
        description:
          'With the session cookie, the session continues under a new cookie and a new CSRF token (read it from GET /auth/me); the old cookie stops working. With a bearer token its session stays.',
        body: s.changePasswordBody,
        response: { 204: s.noContent, ...problems },
      },
    },
    async (request, reply) => {
      // A cookie session continues under a new token (new cookie; the new CSRF token comes from
      // GET /auth/me). A bearer token's session stays as it is: a 204 cannot carry new tokens.
      const rotated = await account.changePassword(
        currentSession(request),
        request.body,
        requestContext(request, reply),
        { rotate: request.authMethod === 'cookie' },
      );
      if (rotated) app.sessionCookie.set(reply, rotated.token);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/auth/change-email',
    {
      config: {
        // Its per-address window is counted by the service, once the caller is signed in.
        rateLimit: perIpLimit('change_email'),
      },
      schema: {
        tags: ['account'],
        summary: 'Ask to change the email address (confirmed from the new address)',
        description:
          'Mails a link to the new address; POST /auth/verify-email with its token makes the change and tells the old address. An address already in use gets the same 202 and nothing changes.',
        body: s.changeEmailBody,
        response: { 202: s.message, ...problems },
      },
      preHandler: app.requireSession,
    },
    async (request, reply) => {
      await account.requestEmailChange(
        currentSession(request),
        request.body,
        requestContext(request, reply),
      );
      return reply.status(202).send({ message: CHANGE_ACCEPTED });
    },
  );

  app.patch(
    '/auth/me',
    {
      preHandler: app.requireSession,
      schema: {
        tags: ['account'],
        summary: 'Change your own profile (the display name)',
        description:
          'The name follows the rules of the sign-up form (trimmed, 1 to 100 characters). With the session cookie it needs the X-CSRF-Token header, like every state-changing request. Answers with the updated user, as GET /auth/me shows it from then on.',
        body: s.updateMeBody,
        response: { 200: s.userResponse, ...problems },
      },
    },
    async (request, reply) => {
      const user = await account.updateProfile(
        currentSession(request),
        request.body,
        requestContext(request, reply),
      );
      return { user };
    },
  );

  app.get(
    '/auth/sessions',
    {
      preHandler: app.requireSession,
      schema: {
        tags: ['account'],
        summary: 'The signed-in devices (live sessions) of the user',
        response: { 200: s.sessionsResponse, 401: s.problem },
      },
    },
    async (request) => ({ sessions: await account.listSessions(currentSession(request)) }),
  );

  app.delete(
    '/auth/sessions/:id',
    {
      preHandler: app.requireSession,
      schema: {
        tags: ['account'],
        summary: 'Sign one of your sessions out (404 for any other id)',
        params: s.sessionIdParams,
        response: { 204: s.noContent, ...problems },
      },
    },
    async (request, reply) => {
      const { current } = await account.revokeSession(
        currentSession(request),
        request.params.id,
        requestContext(request, reply),
      );
      if (current) app.sessionCookie.clear(reply);
      return reply.status(204).send(null);
    },
  );

  app.delete(
    '/auth/sessions',
    {
      preHandler: app.requireSession,
      schema: {
        tags: ['account'],
        summary: 'Sign out everywhere else: every session but this one',
        response: { 204: s.noContent, ...problems },
      },
    },
    async (request, reply) => {
      await account.revokeOtherSessions(currentSession(request), requestContext(request, reply));
      return reply.status(204).send(null);
    },
  );
};
