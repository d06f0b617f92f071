import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { Controller, Get, Module, Post, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { base64url, decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  latchkey as expressLatchkey,
  requireAuth as expressRequireAuth,
  requireMfa as expressRequireMfa,
  requirePermission as expressRequirePermission,
  requireRole as expressRequireRole,
} from '../src/express.js';
import {
  latchkey as fastifyLatchkey,
  requireAuth as fastifyRequireAuth,
  requireMfa as fastifyRequireMfa,
  requirePermission as fastifyRequirePermission,
  requireRole as fastifyRequireRole,
} from '../src/fastify.js';
import { authorize, Latchkey, type LatchkeyOptions, type Needs } from '../src/index.js';
import {
  CurrentUser,
  LatchkeyGuard,
  LatchkeyModule,
  Permissions,
  Public,
  RequireMfa,
  Roles,
} from '../src/nest.js';
import { LocalIssuer } from './local-issuer.js';
import {
  cookieFrom,
  createTestApp,
  STRONG_PASSWORD,
  type TestApp,
} from '../../server/test/support/app.js';
import { backends } from '../../server/test/support/db.js';

const AUDIENCE = 'https://api.example.com';
const ISSUER = 'http://localhost:3000';

interface Signed {
  id: string;
  email: string;
  cookie: string;
  csrfToken: string;
  accessToken: string;
  refreshToken: string;
}

/** One app (Express or Fastify) protected by the guard, reachable over HTTP. */
interface ProtectedApp {
  url: string;
  close(): Promise<void>;
}

function expressApp(options: LatchkeyOptions): Promise<ProtectedApp> {
  const app = express();
  app.use(expressLatchkey(options));
  app.get('/public', (req, res) => {
    res.json({ user: req.user ?? null });
  });
  app.get('/me', expressRequireAuth(), (req, res) => {
    res.json({ user: req.user });
  });
  app.post('/things', expressRequireAuth(), (_req, res) => {
    res.status(201).json({ ok: true });
  });
  app.get('/admin', expressRequireRole('admin'), (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/reports', expressRequirePermission('reports:read'), (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/mfa', expressRequireMfa(), (_req, res) => {
    res.json({ ok: true });
  });
  return listening(createServer(app));
}

async function fastifyApp(options: LatchkeyOptions): Promise<ProtectedApp> {
  const app: FastifyInstance = Fastify();
  await app.register(fastifyLatchkey, options);
  app.get('/public', async (request) => ({ user: request.user }));
  app.get('/me', { preHandler: fastifyRequireAuth() }, async (request) => ({ user: request.user }));
  app.post('/things', { preHandler: fastifyRequireAuth() }, async (_request, reply) =>
    reply.status(201).send({ ok: true }),
  );
  app.get('/admin', { preHandler: fastifyRequireRole('admin') }, async () => ({ ok: true }));
  app.get('/reports', { preHandler: fastifyRequirePermission('reports:read') }, async () => ({
    ok: true,
  }));
  app.get('/mfa', { preHandler: fastifyRequireMfa() }, async () => ({ ok: true }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
}

/** The same routes in a Fetch API runtime: a `(request: Request) => Response` handler. */
function webApp(options: LatchkeyOptions): Promise<ProtectedApp> {
  const latchkey = new Latchkey(options);
  const needs: Record<string, Needs> = {
    '/me': {},
    '/things': {},
    '/admin': { roles: ['admin'] },
    '/reports': { permissions: ['reports:read'] },
    '/mfa': { mfa: true },
  };
  const handle = async (request: Request): Promise<Response> => {
    const path = new URL(request.url).pathname;
    if (path === '/public') {
      const result = await latchkey.verifyRequest(request);
      return Response.json({ user: result.kind === 'user' ? result.user : null });
    }
    const { user, response } = await authorize(latchkey, request, needs[path]);
    if (response) return response;
    return path === '/things'
      ? Response.json({ ok: true }, { status: 201 })
      : Response.json({ user });
  };
  // Node's server in front of the handler, as Bun.serve or a worker would call it.
  const server = createServer((req, res) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      for (const v of [value ?? []].flat()) headers.append(name, v);
    }
    void handle(
      new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers }),
    ).then(async (response) => {
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(await response.text());
    });
  });
  return listening(server);
}

/** The same routes in a NestJS app: `LatchkeyGuard` with `@Roles`, `@Permissions`, `@RequireMfa`. */
async function nestApp(options: LatchkeyOptions): Promise<ProtectedApp> {
  // Decorators applied as functions: the tests are not compiled with `experimentalDecorators`.
  class Routes {
    open(user: unknown) {
      return { user };
    }
    me(user: unknown) {
      return { user };
    }
    things() {
      return { ok: true };
    }
    admin() {
      return { ok: true };
    }
    reports() {
      return { ok: true };
    }
    mfa() {
      return { ok: true };
    }
  }
  const on = (name: keyof Routes, ...decorators: MethodDecorator[]) => {
    const descriptor = Object.getOwnPropertyDescriptor(
      Routes.prototype,
      name,
    ) as PropertyDescriptor;
    for (const decorate of decorators) decorate(Routes.prototype, name, descriptor);
  };
  on('open', Get('public'), Public());
  CurrentUser()(Routes.prototype, 'open', 0);
  on('me', Get('me'));
  CurrentUser()(Routes.prototype, 'me', 0);
  on('things', Post('things'));
  on('admin', Get('admin'), Roles('admin'));
  on('reports', Get('reports'), Permissions('reports:read'));
  on('mfa', Get('mfa'), RequireMfa());
  UseGuards(LatchkeyGuard)(Routes);
  Controller()(Routes);
  class AppModule {}
  Module({ imports: [LatchkeyModule.forRoot(options)], controllers: [Routes] })(AppModule);
  const app = await NestFactory.create(AppModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

function listening(server: Server): Promise<ProtectedApp> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}

/** A JSON answer of the protected app or the guard. */
const body = async (res: Response) => (await res.json()) as { user?: unknown; code?: string };

const frameworks = [
  ['Fetch API (web core)', webApp],
  ['express', expressApp],
  ['fastify', fastifyApp],
  ['nest', nestApp],
] as const;

describe.each(backends)('@latchkey/guard against a running Latchkey on %s', (backend) => {
  let t: TestApp;
  let latchkeyUrl: string;
  beforeAll(async () => {
    // Many sign-ups from one address: the per-IP limits would (rightly) stop them.
    const env: Record<string, string> = {
      REQUIRE_EMAIL_VERIFICATION: 'false',
      ACCESS_TOKEN_AUDIENCE: AUDIENCE,
      RATE_LIMITS: 'off',
    };
    t = await createTestApp(backend, env);
    latchkeyUrl = await t.app.listen({ port: 0, host: '127.0.0.1' });
    await t.database.db
      .insertInto('roles')
      .values({ name: 'analyst', description: 'reads reports' })
      .execute();
  });
  afterAll(() => t.close());

  async function signUp(roles: string[] = []): Promise<Signed> {
    const email = `guard-${randomUUID().slice(0, 8)}@example.com`;
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email, password: STRONG_PASSWORD },
    });
    expect(res.statusCode).toBe(201);
    const id = res.json().user.id as string;
    for (const role of roles) {
      await t.database.db
        .insertInto('user_roles')
        .values({ user_id: id, role_name: role })
        .execute();
    }
    const tokens = await t.app.inject({
      method: 'POST',
      url: '/auth/token',
      payload: { email, password: STRONG_PASSWORD },
    });
    return {
      id,
      email,
      cookie: cookieFrom(res.headers['set-cookie']),
      csrfToken: res.json().csrfToken,
      accessToken: tokens.json().accessToken,
      refreshToken: tokens.json().refreshToken,
    };
  }

  describe.each(frameworks)('from a %s app', (_name, start) => {
    let app: ProtectedApp;
    let checked: ProtectedApp;
    let local: ProtectedApp;
    let issuer: LocalIssuer;
    beforeAll(async () => {
      const options = {
        issuer: ISSUER,
        audience: AUDIENCE,
        serviceUrl: latchkeyUrl,
        sessionCacheSeconds: 1,
        rolePermissions: { analyst: ['reports:read'] },
      };
      issuer = await LocalIssuer.start({ issuer: ISSUER, audience: AUDIENCE });
      app = await start(options);
      checked = await start({ ...options, checkBearerSession: true });
      // Tokens this test signs itself (with `amr`), against its own JWKS.
      local = await start({ ...options, jwksUrl: issuer.jwksUrl });
    });
    afterAll(async () => {
      await app?.close();
      await checked?.close();
      await local?.close();
      await issuer?.close();
    });
    const get = (path: string, headers: Record<string, string> = {}, base = app.url) =>
      fetch(`${base}${path}`, { headers });
    const bearer = (s: Signed) => ({ authorization: `Bearer ${s.accessToken}` });

    it('answers 401 problem+json to anonymous requests, and leaves open routes open', async () => {
      const res = await get('/me');
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(await body(res)).toMatchObject({
        type: 'urn:latchkey:problem:unauthenticated',
        status: 401,
        code: 'unauthenticated',
      });
      expect(await (await get('/public')).json()).toEqual({ user: null });
    });

    it('verifies a bearer access token locally and sets req.user', async () => {
      const s = await signUp();
      const res = await get('/me', bearer(s));
      expect(res.status).toBe(200);
      const { user } = await body(res);
      expect(user).toMatchObject({
        id: s.id,
        roles: [],
        via: 'bearer',
        sessionId: decodeJwt(s.accessToken).sid,
      });
    });

    it('checks a session cookie with the service and sets req.user', async () => {
      const s = await signUp();
      const res = await get('/me', { cookie: `theme=dark; ${s.cookie}` });
      expect(res.status).toBe(200);
      expect((await body(res)).user).toMatchObject({ id: s.id, email: s.email, via: 'cookie' });
    });

    it('needs X-CSRF-Token on state-changing cookie requests, not with a bearer token', async () => {
      const s = await signUp();
      const post = (headers: Record<string, string>) =>
        fetch(`${app.url}/things`, { method: 'POST', headers });
      const without = await post({ cookie: s.cookie });
      expect(without.status).toBe(403);
      expect((await body(without)).code).toBe('csrf_failed');
      expect((await post({ cookie: s.cookie, 'x-csrf-token': 'wrong' })).status).toBe(403);
      expect((await post({ cookie: s.cookie, 'x-csrf-token': s.csrfToken })).status).toBe(201);
      expect((await post(bearer(s))).status).toBe(201);
    });

    it('answers 403 without the role or permission, and lets it through with it', async () => {
      const plain = await signUp();
      const admin = await signUp(['admin']);
      const analyst = await signUp(['analyst']);
      const denied = await get('/admin', bearer(plain));
      expect(denied.status).toBe(403);
      expect(await body(denied)).toMatchObject({ code: 'forbidden', status: 403 });
      expect((await get('/admin', bearer(admin))).status).toBe(200);
      expect((await get('/admin', { cookie: admin.cookie })).status).toBe(200);
      expect((await get('/reports', bearer(plain))).status).toBe(403);
      expect((await get('/reports', bearer(analyst))).status).toBe(200);
      expect((await get('/reports', bearer(admin))).status).toBe(200); // admin has every permission
      expect((await get('/admin', bearer(analyst))).status).toBe(403);
      expect((await get('/admin')).status).toBe(401);
    });

    it('refuses forged and foreign tokens', async () => {
      const s = await signUp();
      const [header, payload, signature] = s.accessToken.split('.') as [string, string, string];
      const claims = decodeJwt(s.accessToken);
      const forgedPayload = base64url.encode(JSON.stringify({ ...claims, roles: ['admin'] }));
      const none = base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt' }));
      for (const token of [
        `${header}.${forgedPayload}.${signature}`,
        `${none}.${payload}.`,
        'garbage',
      ]) {
        const res = await get('/me', { authorization: `Bearer ${token}` });
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/invalid_token/);
      }
      // A token for another audience (Latchkey's default) is not for this API.
      const other = await start({ issuer: ISSUER, audience: ISSUER, serviceUrl: latchkeyUrl });
      try {
        expect((await get('/me', bearer(s), other.url)).status).toBe(401);
      } finally {
        await other.close();
      }
    });

    it('sees a revoked cookie session within the cache time', async () => {
      const s = await signUp();
      expect((await get('/me', { cookie: s.cookie })).status).toBe(200);
      const logout = await t.app.inject({
        method: 'POST',
        url: '/auth/logout',
        headers: { cookie: s.cookie, 'x-csrf-token': s.csrfToken },
      });
      expect(logout.statusCode).toBe(204);
      await new Promise((r) => setTimeout(r, 1100)); // sessionCacheSeconds: 1
      expect((await get('/me', { cookie: s.cookie })).status).toBe(401);
    });

    it('with checkBearerSession, refuses the token of a revoked session; without, trusts it until it expires', async () => {
      const s = await signUp();
      expect((await get('/me', bearer(s), checked.url)).status).toBe(200);
      const revoke = await t.app.inject({
        method: 'POST',
        url: '/auth/revoke',
        payload: { refreshToken: s.refreshToken },
      });
      expect(revoke.statusCode).toBe(204);
      await new Promise((r) => setTimeout(r, 1100));
      const res = await get('/me', bearer(s), checked.url);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/invalid_token/);
      // Local verification only: valid until `exp` (10 minutes at most), as documented.
      expect((await get('/me', bearer(s))).status).toBe(200);
    });

    it('requireMfa: lets a second factor through (amr), refuses a password alone with 403 mfa_required', async () => {
      const ok = async (amr: string[]) => {
        const token = await issuer.sign({ sub: randomUUID(), amr });
        return (await get('/mfa', { authorization: `Bearer ${token}` }, local.url)).status;
      };
      expect(await ok(['pwd', 'otp'])).toBe(200);
      expect(await ok(['pwd', 'hwk'])).toBe(200);
      expect(await ok(['mfa', 'pwd', 'swk'])).toBe(200);
      expect(await ok(['hwk', 'pin'])).toBe(200); // a passkey that verified its user
      expect(await ok(['pwd'])).toBe(403);
      expect(await ok(['hwk'])).toBe(403); // possession alone
      expect(await ok(['otp', 'sms'])).toBe(403); // two of the same kind
      expect(await ok([])).toBe(403);
      const token = await issuer.sign({ sub: randomUUID(), amr: ['pwd'] });
      const refused = await get('/mfa', { authorization: `Bearer ${token}` }, local.url);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await body(refused)).toMatchObject({ status: 403, code: 'mfa_required' });
      // The user's amr is what the token said.
      const me = await get(
        '/me',
        { authorization: `Bearer ${await issuer.sign({ sub: 'u1', amr: ['pwd', 'otp'] })}` },
        local.url,
      );
      expect((await body(me)).user).toMatchObject({ id: 'u1', amr: ['pwd', 'otp'], via: 'bearer' });
    });

    it('requireMfa: a cookie session signed in with a password only is refused', async () => {
      const s = await signUp();
      const res = await get('/mfa', { cookie: s.cookie });
      expect(res.status).toBe(403);
      expect((await body(res)).code).toBe('mfa_required');
    });

    it('refuses an expired, a foreign-key and an alg:none token, and accepts a fresh one', async () => {
      const fresh = await issuer.sign({ sub: 'u2' });
      expect((await get('/me', { authorization: `Bearer ${fresh}` }, local.url)).status).toBe(200);
      const now = Math.floor(Date.now() / 1000);
      const expired = await issuer.sign({ sub: 'u2', iat: now - 3600, exp: now - 600 });
      const foreign = await issuer.signWithForeignKey({ sub: 'u2' });
      const none = issuer.unsigned({ sub: 'u2', roles: ['admin'] });
      for (const token of [expired, foreign, none]) {
        const res = await get('/me', { authorization: `Bearer ${token}` }, local.url);
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
        expect((await body(res)).code).toBe('unauthenticated');
      }
    });

    it('answers 503 when the service cannot be reached for a cookie', async () => {
      const down = await start({
        issuer: ISSUER,
        audience: AUDIENCE,
        serviceUrl: 'http://127.0.0.1:9',
      });
      try {
        const res = await get('/me', { cookie: 'latchkey_session=abc' }, down.url);
        expect(res.status).toBe(503);
        expect((await body(res)).code).toBe('auth_unavailable');
      } finally {
        await down.close();
      }
    });
  });
});
