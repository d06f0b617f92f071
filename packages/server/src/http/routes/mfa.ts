import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AuthService } from '../../core/auth.js';
import type { MfaService } from '../../core/mfa.js';
import type { SecondStep } from '../../core/second-step.js';
import type { TokenService } from '../../core/tokens-service.js';
import type { PerIpLimit } from '../plugins/rate-limit.js';
import { currentSession, requestContext } from '../plugins/session.js';
import * as s from '@latchkey/contract';

const RECENT =
  'Needs a sign-in or POST /auth/reauthenticate within REAUTH_MAX_AGE, else 403 reauthentication_required.';

/**
 * Second factors: the user's own (authenticator app, recovery codes, passkeys), the second step
 * of sign-in in cookie and token mode, the passkey sign-in, and re-authentication.
 */
export const mfaRoutes: FastifyPluginAsyncZod<{
  mfa: MfaService;
  secondStep: SecondStep;
  auth: AuthService;
  tokens: TokenService;
  perIpLimit: PerIpLimit;
}> = async (app, { mfa, secondStep, auth, tokens, perIpLimit }) => {
  const problems = {
    400: s.problem,
    401: s.problem,
    403: s.problem,
    404: s.problem,
    409: s.problem,
    429: s.problem,
    503: s.problem,
  };
  const tags = ['second factors'];
  const signedIn = { preHandler: app.requireSession };

  app.get(
    '/auth/mfa',
    {
      ...signedIn,
      schema: {
        tags,
        summary: "The signed-in user's second factors",
        description:
          '`required`: the user holds a role of MFA_REQUIRED_ROLES, whose permissions need a session signed in with a second factor.',
        response: { 200: s.mfaStatus, ...problems },
      },
    },
    async (request) => mfa.status(currentSession(request)),
  );

  app.post(
    '/auth/mfa/totp/setup',
    {
      ...signedIn,
      schema: {
        tags,
        summary:
          'Start setting up an authenticator app: the secret, its otpauth:// URI and QR code',
        description: `Not active until POST /auth/mfa/totp/confirm. 409 totp_already_enabled when one is active. ${RECENT}`,
        response: { 200: s.totpSetup, ...problems },
      },
    },
    async (request, reply) =>
      mfa.setupTotp(currentSession(request), requestContext(request, reply)),
  );

  app.post(
    '/auth/mfa/totp/confirm',
    {
      ...signedIn,
      schema: {
        tags,
        summary: 'Activate the authenticator app with a code from it',
        description:
          'The first factor of the account also gets 10 recovery codes, shown only here (otherwise `recoveryCodes` is empty). The session counts as signed in with the app from now on. 400 invalid_code.',
        body: s.mfaCodeBody,
        response: { 200: s.recoveryCodes, ...problems },
      },
    },
    async (request, reply) =>
      mfa.confirmTotp(currentSession(request), request.body.code, requestContext(request, reply)),
  );

  app.delete(
    '/auth/mfa/totp',
    {
      ...signedIn,
      schema: {
        tags,
        summary: 'Remove the authenticator app',
        description: `Recovery codes go too when no passkey is left. The user is mailed. ${RECENT}`,
        response: { 204: s.noContent, ...problems },
      },
    },
    async (request, reply) => {
      await mfa.removeTotp(currentSession(request), requestContext(request, reply));
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/auth/mfa/recovery-codes',
    {
      ...signedIn,
      schema: {
        tags,
        summary: 'A new set of 10 recovery codes; the old set stops working',
        description: `409 mfa_not_enabled without an authenticator app or passkey. ${RECENT}`,
        response: { 200: s.recoveryCodes, ...problems },
      },
    },
    async (request, reply) =>
      mfa.regenerateRecoveryCodes(currentSession(request), requestContext(request, reply)),
  );

  app.post(
    '/auth/passkeys/registration-options',
    {
      ...signedIn,
      schema: {
        tags,
        summary: 'WebAuthn creation options for a new passkey (discoverable, user verification)',
        description: `Pass them to @simplewebauthn/browser's startRegistration, then POST the answer to /auth/passkeys within 5 minutes. ${RECENT}`,
        response: { 200: s.webauthnOptions, ...problems },
      },
    },
    async (request) => mfa.passkeyRegistrationOptions(currentSession(request)),
  );

  app.post(
    '/auth/passkeys',
    {
      ...signedIn,
      schema: {
        tags,
        summary: 'Register a passkey with the answer to the registration options',
        description:
          '400 invalid_passkey when the answer does not check out, its options expired or were used, or the authenticator is registered already. The user is mailed.',
        body: s.addPasskeyBody,
        response: { 201: s.passkey, ...problems },
      },
    },
    async (request, reply) => {
      const created = await mfa.addPasskey(
        currentSession(request),
        request.body as Parameters<MfaService['addPasskey']>[1],
        requestContext(request, reply),
      );
      return reply.status(201).send(created);
    },
  );

  app.patch(
    '/auth/passkeys/:id',
    {
      ...signedIn,
      schema: {
        tags,
        summary: 'Rename a passkey',
        params: s.passkeyIdParams,
        body: s.renamePasskeyBody,
        response: { 200: s.passkey, ...problems },
      },
    },
    async (request, reply) =>
      mfa.renamePasskey(
        currentSession(request),
        request.params.id,
        request.body.name,
        requestContext(request, reply),
      ),
  );

  app.delete(
    '/auth/passkeys/:id',
    {
      ...signedIn,
      schema: {
        tags,
        summary: 'Remove a passkey',
        description: `Recovery codes go too when no factor is left. The user is mailed. ${RECENT}`,
        params: s.passkeyIdParams,
        response: { 204: s.noContent, ...problems },
      },
    },
    async (request, reply) => {
      await mfa.removePasskey(
        currentSession(request),
        request.params.id,
        requestContext(request, reply),
      );
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/auth/mfa/passkey-options',
    {
      config: { rateLimit: perIpLimit('signin') },
      schema: {
        tags,
        summary: "WebAuthn request options for the pending sign-in's passkeys",
        description:
          'Needs the pending sign-in cookie of POST /auth/login, or in token mode a body `{mfaToken}` from POST /auth/token (401 mfa_session_expired).',
        body: s.passkeyOptionsBody,
        response: { 200: s.webauthnOptions, ...problems },
      },
    },
    async (request) => {
      const mfaToken = request.body?.mfaToken;
      return mfaToken === undefined
        ? secondStep.passkeyOptions(app.pendingCookie.read(request), 'cookie')
        : secondStep.passkeyOptions(mfaToken, 'token');
    },
  );

  app.post(
    '/auth/mfa/verify',
    {
      config: { rateLimit: perIpLimit('signin') },
      schema: {
        tags,
        summary: 'The second step: a code, a recovery code or a passkey; sets the session cookie',
        description:
          'Needs the pending sign-in cookie of POST /auth/login: single use, 5 minutes, ended by 10 wrong codes. 401 invalid_code; 401 mfa_session_expired; 429 rate_limited (with Retry-After) while wrong codes on the account are throttled.',
        body: s.mfaVerifyBody,
        response: { 200: s.sessionResponse, ...problems },
      },
    },
    async (request, reply) => {
      const ctx = requestContext(request, reply);
      const passed = await secondStep.verify(
        app.pendingCookie.read(request),
        'cookie',
        request.body as Parameters<SecondStep['verify']>[2],
        ctx,
      );
      const session = await auth.signIn(
        passed.user,
        ctx,
        { amr: passed.amr, method: passed.method },
        app.sessionCookie.read(request),
      );
      app.sessionCookie.set(reply, session.token);
      app.pendingCookie.clear(reply);
      return { user: session.user, csrfToken: session.csrfToken };
    },
  );

  app.post(
    '/auth/token/mfa',
    {
      config: { rateLimit: perIpLimit('signin') },
      schema: {
        tags: ['tokens', ...tags],
        summary: 'The second step in token mode: the mfaToken of POST /auth/token and a code',
        description:
          'For a passkey, get the options from POST /auth/mfa/passkey-options with `{mfaToken}` as its body. Same rules and errors as POST /auth/mfa/verify.',
        body: s.tokenMfaBody,
        response: { 200: s.tokenPair, ...problems },
      },
    },
    async (request, reply) => {
      const ctx = requestContext(request, reply);
      const { mfaToken, ...step } = request.body;
      const passed = await secondStep.verify(
        mfaToken,
        'token',
        step as Parameters<SecondStep['verify']>[2],
        ctx,
      );
      return tokens.issueFor(passed.user, ctx, { amr: passed.amr });
    },
  );

  app.post(
    '/auth/passkeys/login-options',
    {
      config: { rateLimit: perIpLimit('signin') },
      schema: {
        tags,
        summary: 'WebAuthn request options for "Sign in with a passkey" (discoverable credentials)',
        response: { 200: s.webauthnOptions, ...problems },
      },
    },
    async () => secondStep.loginOptions(),
  );

  app.post(
    '/auth/passkeys/login',
    {
      config: { rateLimit: perIpLimit('signin') },
      schema: {
        tags,
        summary: 'Sign in with a passkey alone: sets the session cookie',
        description:
          'One 401 invalid_credentials for every failure (unknown passkey, bad signature, used or expired options, disabled account): nothing tells which accounts exist.',
        body: s.passkeyLoginBody,
        response: { 200: s.sessionResponse, ...problems },
      },
    },
    async (request, reply) => {
      const ctx = requestContext(request, reply);
      const passed = await secondStep.passkeyLogin(
        request.body.response as Parameters<SecondStep['passkeyLogin']>[0],
        ctx,
      );
      const session = await auth.signIn(
        passed.user,
        ctx,
        { amr: passed.amr, method: 'passkey' },
        app.sessionCookie.read(request),
      );
      app.sessionCookie.set(reply, session.token);
      return { user: session.user, csrfToken: session.csrfToken };
    },
  );

  app.post(
    '/auth/reauthenticate',
    {
      ...signedIn,
      config: { rateLimit: perIpLimit('signin') },
      schema: {
        tags,
        summary: "Prove it is you again: refreshes the session's authentication time",
        description:
          '`{password}`, `{method: "totp"|"recovery", code}`, or `{method: "passkey", response}` (an assertion against POST /auth/passkeys/login-options). 401 invalid_credentials or invalid_code; 429 while throttled.',
        body: s.reauthenticateBody,
        response: { 204: s.noContent, ...problems },
      },
    },
    async (request, reply) => {
      await mfa.reauthenticate(
        currentSession(request),
        request.body as Parameters<MfaService['reauthenticate']>[1],
        requestContext(request, reply),
      );
      return reply.status(204).send(null);
    },
  );
};
