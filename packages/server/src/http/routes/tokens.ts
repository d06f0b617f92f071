import type { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { SigningKeyStore } from '../../core/keys.js';
import type { TokenService } from '../../core/tokens-service.js';
import type { PerIpLimit } from '../plugins/rate-limit.js';
import { requestContext } from '../plugins/session.js';
import * as s from '@latchkey/contract';

/** Token mode: POST /auth/token, /auth/refresh, /auth/revoke and the JWKS. No cookies here. */
export const tokenRoutes: FastifyPluginAsyncZod<{
  tokens: TokenService;
  keys: SigningKeyStore;
  jwksMaxAgeSeconds: number;
  perIpLimit: PerIpLimit;
}> = async (app, { tokens, keys, jwksMaxAgeSeconds, perIpLimit }) => {
  const problems = {
    400: s.problem,
    401: s.problem,
    403: s.problem,
    429: s.problem,
    503: s.problem,
  };

  app.post(
    '/auth/token',
    {
      config: {
        rateLimit: perIpLimit('signin'),
        accountLimit: { rule: 'signin', field: 'email' },
      },
      schema: {
        tags: ['tokens'],
        summary: 'Sign in for an API or mobile client: an access JWT and a refresh token',
        description:
          'The same credential checks as POST /auth/login, but no cookie: the pair belongs to a new server-side session (listed with the others). Send the access token as `Authorization: Bearer`. For an account with a second factor the answer is `{ mfaRequired: true, methods, mfaToken }`: finish at POST /auth/token/mfa within 5 minutes.',
        body: s.tokenBody,
        response: { 200: s.tokenResponse, ...problems },
      },
    },
    async (request, reply) => tokens.issue(request.body, requestContext(request, reply)),
  );

  app.post(
    '/auth/refresh',
    {
      schema: {
        tags: ['tokens'],
        summary: 'Exchange a refresh token for a new pair (rotation)',
        description: `Every refresh token works once. A second use within the reuse grace window gets the same new pair (racing tabs); any later reuse revokes the whole family and its session (401 invalid_refresh_token).`,
        body: s.refreshTokenBody,
        response: { 200: s.tokenPair, ...problems },
      },
    },
    async (request, reply) =>
      tokens.refresh(request.body.refreshToken, requestContext(request, reply)),
  );

  app.post(
    '/auth/revoke',
    {
      schema: {
        tags: ['tokens'],
        summary: 'Sign out in token mode: revokes the refresh family and its session',
        description: 'Always 204, whether or not the token was known (RFC 7009).',
        body: s.refreshTokenBody,
        response: { 204: s.noContent, ...problems },
      },
    },
    async (request, reply) => {
      await tokens.revoke(request.body.refreshToken, requestContext(request, reply));
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['tokens'],
        summary: 'The public keys of access tokens (current and recently retired)',
        response: { 200: s.jwks },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', `public, max-age=${jwksMaxAgeSeconds}`);
      return keys.jwks() as Promise<z.infer<typeof s.jwks>>;
    },
  );
};
