import { randomUUID } from 'node:crypto';
import { NextRequest } from 'next/server.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginRedirect, pathPattern, protect, routedPath } from '../src/next.js';
import { LocalIssuer } from './local-issuer.js';
import {
  cookieFrom,
  createTestApp,
  STRONG_PASSWORD,
  type TestApp,
} from '../../server/test/support/app.js';
import { backends } from '../../server/test/support/db.js';

const ISSUER = 'http://localhost:3000';
const APP = 'http://localhost:4002';

/** What the middleware told Next.js: go on (with these request headers), redirect, or answer. */
function outcome(response: Response) {
  const passed = (name: string) => response.headers.get(`x-middleware-request-${name}`);
  return {
    next: response.headers.get('x-middleware-next') === '1',
    userId: passed('x-latchkey-user-id'),
    roles: passed('x-latchkey-roles'),
    overridden: response.headers.get('x-middleware-override-headers')?.split(',') ?? [],
    location: response.headers.get('location'),
    status: response.status,
  };
}

describe('Next.js paths and redirects', () => {
  it('matches paths in Next.js matcher syntax', () => {
    expect(pathPattern('/dashboard/:path*').test('/dashboard')).toBe(true);
    expect(pathPattern('/dashboard/:path*').test('/dashboard/a/b')).toBe(true);
    expect(pathPattern('/dashboard/:path*').test('/dashboards')).toBe(false);
    expect(pathPattern('/dashboard/:path+').test('/dashboard')).toBe(false);
    expect(pathPattern('/api/notes/:id').test('/api/notes/7')).toBe(true);
    expect(pathPattern('/api/notes/:id').test('/api/notes/7/x')).toBe(false);
    expect(pathPattern('/a.b').test('/aXb')).toBe(false);
  });

  it('matches the path routing sees: decoded, single slashes, any case', () => {
    const admin = pathPattern('/dashboard/admin/:path*');
    for (const path of ['/dashboard/%61dmin', '/dashboard//admin', '/Dashboard/Admin/x']) {
      expect(admin.test(routedPath(path))).toBe(true);
    }
    expect(routedPath('/bad%')).toBe('/bad%');
  });

  it('sends to sign-in with the asked page as a same-site `next`', () => {
    const at = (path: string) =>
      loginRedirect(new NextRequest(`${APP}${path}`), '/login').toString();
    expect(at('/dashboard/x?tab=2')).toBe(`${APP}/login?next=%2Fdashboard%2Fx%3Ftab%3D2`);
    // A path that a browser would read as another host never becomes `next`.
    expect(new URL(at('//evil.example/x')).searchParams.get('next')).not.toMatch(/^\/\//);
  });
});

describe.each(backends)('@latchkey/guard/next against a running Latchkey on %s', (backend) => {
  let t: TestApp;
  let issuer: LocalIssuer;
  let middleware: ReturnType<typeof protect>;
  let latchkeyUrl: string;

  beforeAll(async () => {
    t = await createTestApp(backend, { REQUIRE_EMAIL_VERIFICATION: 'false', RATE_LIMITS: 'off' });
    latchkeyUrl = await t.app.listen({ port: 0, host: '127.0.0.1' });
    issuer = await LocalIssuer.start({ issuer: ISSUER, audience: ISSUER });
    middleware = protect(
      [
        '/dashboard/:path*',
        '/api/notes',
        { path: '/staff/:path*', roles: ['admin'] },
        { path: '/vault', mfa: true },
      ],
      { issuer: ISSUER, serviceUrl: latchkeyUrl, jwksUrl: issuer.jwksUrl, loginPath: '/login' },
    );
  });
  afterAll(async () => {
    await issuer?.close();
    await t?.close();
  });

  async function signUp() {
    const email = `next-${randomUUID().slice(0, 8)}@example.com`;
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email, password: STRONG_PASSWORD, name: 'Grace' },
    });
    expect(res.statusCode).toBe(201);
    return {
      id: res.json().user.id as string,
      email,
      cookie: cookieFrom(res.headers['set-cookie']),
      csrfToken: res.json().csrfToken as string,
    };
  }
  const run = (path: string, init: ConstructorParameters<typeof NextRequest>[1] = {}) =>
    middleware(new NextRequest(`${APP}${path}`, init)).then(outcome);

  it('redirects a person without a session to sign in, and answers 401 problem+json on API paths', async () => {
    const page = await run('/dashboard/reports?range=7d');
    expect(page.status).toBe(307);
    expect(page.location).toBe(`${APP}/login?next=%2Fdashboard%2Freports%3Frange%3D7d`);
    const api = await middleware(new NextRequest(`${APP}/api/notes`));
    expect(api.status).toBe(401);
    expect(api.headers.get('content-type')).toBe('application/problem+json');
    expect(await api.json()).toMatchObject({ code: 'unauthenticated' });
  });

  it('passes the user id and roles on to the page, and drops the same headers sent by a client', async () => {
    const s = await signUp();
    const page = await run('/dashboard', {
      headers: { cookie: s.cookie, 'x-latchkey-user-id': 'someone-else' },
    });
    expect(page).toMatchObject({ next: true, userId: s.id, roles: '' });
    // An open path: the middleware still removes a forged identity.
    const open = await run('/', { headers: { 'x-latchkey-user-id': 'someone-else' } });
    expect(open.next).toBe(true);
    expect(open.userId).toBeNull();
    expect(open.overridden).not.toContain('x-latchkey-user-id');
  });

  it('answers 403 to a user without the role, and lets one with it through', async () => {
    const s = await signUp();
    // Spellings that reach the same page cannot slip past its rule.
    for (const path of ['/st%61ff/x', '/STAFF']) {
      const other = await middleware(
        new NextRequest(`${APP}${path}`, { headers: { cookie: s.cookie } }),
      );
      expect(other.status).toBe(403);
    }
    const page = await middleware(
      new NextRequest(`${APP}/staff`, { headers: { cookie: s.cookie } }),
    );
    expect(page.status).toBe(403);
    expect(await page.text()).toMatch(/Not allowed/);
    const admin = await issuer.sign({ sub: 'boss', roles: ['admin'] });
    const allowed = await run('/staff/users', { headers: { authorization: `Bearer ${admin}` } });
    expect(allowed).toMatchObject({ next: true, userId: 'boss', roles: 'admin' });
  });

  it('needs X-CSRF-Token for cookie POSTs to API paths, not for Server Actions on pages', async () => {
    const s = await signUp();
    const post = (path: string, headers: Record<string, string>) =>
      middleware(new NextRequest(`${APP}${path}`, { method: 'POST', headers }));
    const refused = await post('/api/notes', { cookie: s.cookie });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: 'csrf_failed' });
    expect(
      outcome(await post('/api/notes', { cookie: s.cookie, 'x-csrf-token': s.csrfToken })).next,
    ).toBe(true);
    // Next.js checks a Server Action's Origin against Host itself.
    expect(outcome(await post('/dashboard', { cookie: s.cookie, 'next-action': 'abc' })).next).toBe(
      true,
    );
  });

  it('needs a second factor where the path says so', async () => {
    const pwd = await issuer.sign({ sub: 'u', amr: ['pwd'] });
    const otp = await issuer.sign({ sub: 'u', amr: ['pwd', 'otp'] });
    expect((await run('/vault', { headers: { authorization: `Bearer ${pwd}` } })).status).toBe(403);
    expect((await run('/vault', { headers: { authorization: `Bearer ${otp}` } })).next).toBe(true);
  });

  it('refuses an expired, a foreign-key and an alg:none token on API paths', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const token of [
      await issuer.sign({ sub: 'u', iat: now - 3600, exp: now - 600 }),
      await issuer.signWithForeignKey({ sub: 'u' }),
      issuer.unsigned({ sub: 'u', roles: ['admin'] }),
    ]) {
      const res = await middleware(
        new NextRequest(`${APP}/api/notes`, { headers: { authorization: `Bearer ${token}` } }),
      );
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    }
  });

  it('locks a revoked session out within the cache time', async () => {
    const s = await signUp();
    const cached = protect(['/dashboard/:path*'], {
      issuer: ISSUER,
      serviceUrl: latchkeyUrl,
      sessionCacheSeconds: 1,
    });
    const visit = () =>
      cached(new NextRequest(`${APP}/dashboard`, { headers: { cookie: s.cookie } })).then(outcome);
    expect((await visit()).next).toBe(true);
    const logout = await t.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { cookie: s.cookie, 'x-csrf-token': s.csrfToken },
    });
    expect(logout.statusCode).toBe(204);
    await new Promise((r) => setTimeout(r, 1100)); // sessionCacheSeconds: 1
    expect((await visit()).status).toBe(307);
  });

  it('with checkBearerSession, refuses the access token of a revoked session', async () => {
    const { email } = await signUp();
    const tokens = await t.app.inject({
      method: 'POST',
      url: '/auth/token',
      payload: { email, password: STRONG_PASSWORD },
    });
    const { accessToken, refreshToken } = tokens.json() as Record<string, string>;
    const checked = protect(['/api/notes'], {
      issuer: ISSUER,
      serviceUrl: latchkeyUrl,
      checkBearerSession: true,
      sessionCacheSeconds: 1,
    });
    const call = () =>
      checked(
        new NextRequest(`${APP}/api/notes`, {
          headers: { authorization: `Bearer ${accessToken}` },
        }),
      );
    expect(outcome(await call()).next).toBe(true);
    const revoke = await t.app.inject({
      method: 'POST',
      url: '/auth/revoke',
      payload: { refreshToken },
    });
    expect(revoke.statusCode).toBe(204);
    await new Promise((r) => setTimeout(r, 1100)); // sessionCacheSeconds: 1
    const refused = await call();
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  });
});
