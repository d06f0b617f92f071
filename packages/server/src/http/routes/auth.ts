import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AuthService } from '../../core/auth.js';
import type { DeviceCookieJar } from '../device-cookie.js';
import type { PerIpLimit } from '../plugins/rate-limit.js';
import { currentSession, requestContext } from '../plugins/session.js';
import * as s from '@latchkey/contract';

const ACCEPTED = 'If the address can receive mail, a message is on its way. Check your inbox.';

export const authRoutes: FastifyPluginAsyncZod<{
  auth: AuthService;
  deviceCookie: DeviceCookieJar;
  perIpLimit: PerIpLimit;
}> = async (app, { auth, deviceCookie, perIpLimit }) => {
  const problems = {
    400: s.problem,
    401: s.problem,
    403: s.problem,
    409: s.problem,
    429: s.problem,
    503: s.problem,
  };

  app.post(
    '/auth/register',
    {
      config: {
        rateLimit: perIpLimit('register'),
        accountLimit: { rule: 'register', field: 'email' },
      },
      schema: {
        tags: ['auth'],
        summary: 'Create an account',
        description:
          'Answers 202 whether or not the address already has an account (no enumeration); the owner of an existing account is told by mail. With REQUIRE_EMAIL_VERIFICATION=false: 201 with a session, or 409 email_taken.',
        body: s.registerBody,
        response: { 201: s.sessionResponse, 202: s.message, ...problems },
      },
    },
    async (request, reply) => {
      const result = await auth.register(request.body, requestContext(request, reply));
      if (result.kind === 'accepted') return reply.status(202).send({ message: ACCEPTED });
      app.sessionCookie.set(reply, result.session.token);
      return reply
        .status(201)
        .send({ user: result.session.user, csrfToken: result.session.csrfToken });
    },
  );

  app.post(
    '/auth/verify-email',
    {
      config: {
        rateLimit: perIpLimit('verify'),
      },
      schema: {
        tags: ['auth'],
        summary: 'Confirm an email address with the token from the mail',
        description:
          "A sign-up's link also needs `password`, the one chosen when signing up: without it the answer is 400 `password_required`, with one that no pending sign-up of the address chose 400 `password_mismatch` (counted as a failed password of the account); the link stays usable after either. The sign-up whose password was typed is activated, whichever of the address's links was followed, and every other link stops working. Email-change links and links that only confirm the address ignore `password`. An email change confirmed in a browser signed in to the same account rotates that session: a new cookie and CSRF token (from GET /auth/me); the old cookie stops working.",
        body: s.verifyEmailBody,
        response: { 200: s.userResponse, ...problems },
      },
    },
    async (request, reply) => {
      const { user, session } = await auth.verifyEmail(
        request.body.token,
        request.body.password,
        requestContext(request, reply),
        app.sessionCookie.read(request),
      );
      if (session) app.sessionCookie.set(reply, session.token);
      return { user };
    },
  );

  app.post(
    '/auth/resend-verification',
    {
      config: {
        rateLimit: perIpLimit('resend'),
        accountLimit: { rule: 'resend', field: 'email' },
      },
      schema: {
        tags: ['auth'],
        summary: 'Send a new verification link (always 202)',
        body: s.emailOnlyBody,
        response: { 202: s.message, ...problems },
      },
    },
    async (request, reply) => {
      await auth.resendVerification(request.body.email, requestContext(request, reply));
      return reply.status(202).send({ message: ACCEPTED });
    },
  );

  app.post(
    '/auth/login',
    {
      config: {
        rateLimit: perIpLimit('signin'),
        accountLimit: { rule: 'signin', field: 'email', deviceCookie: true },
      },
      schema: {
        tags: ['auth'],
        summary: 'Sign in: sets the session cookie and returns the CSRF token',
        description:
          'Also sets a long-lived device cookie: later sign-ins from this browser are throttled on their own, not with the failed attempts of other clients on the account. For an account with a second factor the answer is `{ mfaRequired: true, methods }` with a pending sign-in cookie and no session: finish at POST /auth/mfa/verify within 5 minutes.',
        body: s.loginBody,
        response: { 200: s.loginResponse, ...problems },
      },
    },
    async (request, reply) => {
      const session = await auth.login(request.body, requestContext(request, reply), {
        session: app.sessionCookie.read(request),
        device: deviceCookie.read(request),
      });
      if (session.kind === 'mfa') {
        app.pendingCookie.set(reply, session.pending.token);
        if (session.deviceToken) deviceCookie.set(reply, session.deviceToken);
        return { mfaRequired: true as const, methods: session.pending.methods };
      }
      app.sessionCookie.set(reply, session.token);
      if (session.deviceToken) deviceCookie.set(reply, session.deviceToken);
      return { user: session.user, csrfToken: session.csrfToken };
    },
  );

  app.post(
    '/auth/logout',
    {
      preHandler: app.requireSession,
      schema: {
        tags: ['auth'],
        summary: 'Sign out: revokes this session and clears the cookie',
        description:
          "Revokes every session the request presents: the bearer token's and, when a session cookie comes with it, the cookie's too.",
        response: { 204: s.noContent, ...problems },
      },
    },
    async (request, reply) => {
      const session = currentSession(request);
      // Authenticated by a bearer token, the request may still carry a session cookie: its
      // session ends too, so the cookie cleared below never outlives a live session.
      const cookieToken =
        request.authMethod === 'bearer' ? app.sessionCookie.read(request) : undefined;
      await auth.logout(
        session.sessionId,
        session.user.id,
        requestContext(request, reply),
        cookieToken,
      );
      app.sessionCookie.clear(reply);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/auth/me',
    {
      preHandler: app.requireSession,
      schema: {
        tags: ['auth'],
        summary: 'The signed-in user and the CSRF token (null with a bearer token)',
        description:
          '`amr` says how the session signed in (RFC 8176: `pwd`, `otp`, `hwk`/`swk`, and `mfa` when a second factor was used); `authenticatedAt` is its last sign-in or re-authentication.',
        response: { 200: s.meResponse, 401: s.problem },
      },
    },
    async (request) => {
      const session = currentSession(request);
      const csrfToken = request.authMethod === 'bearer' ? null : session.csrfToken;
      return {
        user: session.user,
        csrfToken,
        amr: session.amr,
        authenticatedAt: session.authenticatedAt.toISOString(),
      };
    },
  );
};
