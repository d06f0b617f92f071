import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { cookieFrom, createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { login, uniqueEmail, verifiedUser } from '../support/account.js';
import { enrolTotp, passwordStep, totpCode, verify } from '../support/mfa.js';
import { configProblems } from '../support/config.js';
import { backends } from '../support/db.js';

describe('COOKIE_DOMAIN', () => {
  it('takes a domain that contains PUBLIC_URL’s host', () => {
    const config = loadConfig({
      PUBLIC_URL: 'https://auth.example.com',
      COOKIE_DOMAIN: '.Example.com',
    });
    expect(config.session.cookieDomain).toBe('example.com');
    expect(
      loadConfig({ PUBLIC_URL: 'https://example.com', COOKIE_DOMAIN: 'example.com' }).session
        .cookieDomain,
    ).toBe('example.com');
    expect(loadConfig({}).session.cookieDomain).toBeUndefined();
  });

  it('refuses another site’s domain and what is no domain', () => {
    expect(
      configProblems({ PUBLIC_URL: 'https://auth.example.com', COOKIE_DOMAIN: 'other.com' }),
    ).toEqual([
      expect.stringMatching(/^COOKIE_DOMAIN=other.com does not contain PUBLIC_URL's host/),
    ]);
    expect(
      configProblems({ PUBLIC_URL: 'https://notexample.com', COOKIE_DOMAIN: 'example.com' }),
    ).toHaveLength(1);
    for (const bad of ['localhost', '10.0.0.1', 'exa mple.com', 'https://example.com']) {
      expect(configProblems({ COOKIE_DOMAIN: bad })).toEqual([
        expect.stringMatching(/^COOKIE_DOMAIN=.* is invalid: expected a domain name/),
      ]);
    }
  });
});

describe.each(backends)('a session cookie shared with sibling subdomains on %s', (backend) => {
  let t: TestApp;
  const app = 'https://app.example.com';
  beforeAll(async () => {
    t = await createTestApp(backend, {
      PUBLIC_URL: 'https://auth.example.com',
      COOKIE_DOMAIN: 'example.com',
      CORS_ORIGINS: app,
      REQUIRE_EMAIL_VERIFICATION: 'false',
    });
  });
  afterAll(() => t.close());

  it('is a Secure __Secure- cookie with Domain (a __Host- cookie cannot have one), and works', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email: uniqueEmail('domain'), password: STRONG_PASSWORD },
      headers: { origin: app },
    });
    expect(res.statusCode).toBe(201);
    const setCookie = String(res.headers['set-cookie']);
    expect(setCookie).toMatch(/^__Secure-latchkey_session=/);
    expect(setCookie).toMatch(/; Domain=example\.com/);
    expect(setCookie).toMatch(/; Secure/);
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Lax/);
    const cookie = cookieFrom(res.headers['set-cookie']);
    const csrfToken = res.json().csrfToken as string;

    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } });
    expect(me.statusCode).toBe(200);
    // The same token under the host-only name is not this deployment's cookie.
    const other = cookie.replace('__Secure-', '__Host-');
    expect(
      (await t.app.inject({ method: 'GET', url: '/auth/me', headers: { cookie: other } }))
        .statusCode,
    ).toBe(401);

    // The app on the sibling subdomain signs out with the cookie: CORS with credentials, and
    // the cleared cookie names the same Domain (or the browser would keep it).
    const preflight = await t.app.inject({
      method: 'OPTIONS',
      url: '/auth/logout',
      headers: {
        origin: app,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-csrf-token',
      },
    });
    expect(preflight.headers['access-control-allow-origin']).toBe(app);
    expect(preflight.headers['access-control-allow-credentials']).toBe('true');
    const logout = await t.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { cookie, origin: app, 'x-csrf-token': csrfToken },
    });
    expect(logout.statusCode).toBe(204);
    const cleared = String(logout.headers['set-cookie']);
    expect(cleared).toMatch(/^__Secure-latchkey_session=;/);
    expect(cleared).toMatch(/; Domain=example\.com/);
  });
});

describe.each(backends)('the pending second-step cookie with COOKIE_DOMAIN on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend, {
      PUBLIC_URL: 'https://auth.example.com',
      COOKIE_DOMAIN: 'example.com',
    });
  });
  afterAll(() => t.close());

  it('stays host-only: __Host- without Domain, set and cleared', async () => {
    const { email } = await verifiedUser(t, 'domain-mfa');
    const { secret } = await enrolTotp(t, await login(t, email));
    const { res: started, pending } = await passwordStep(t, email);
    expect(started.json().mfaRequired).toBe(true);
    const set = String(started.headers['set-cookie']);
    // A browser drops a __Host- cookie that names a Domain: the second step would never see it.
    expect(set).toMatch(/^__Host-latchkey_mfa=/);
    expect(set).not.toMatch(/Domain=/i);
    const done = await verify(t, pending, { method: 'totp', code: totpCode(t, secret) });
    expect(done.statusCode).toBe(200);
    const cleared = [done.headers['set-cookie']]
      .flat()
      .find((c) => c?.startsWith('__Host-latchkey_mfa='));
    expect(cleared).toBeDefined();
    expect(cleared).not.toMatch(/Domain=/i);
  });
});
