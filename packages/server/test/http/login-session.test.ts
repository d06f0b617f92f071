import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cookieFrom, createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { uniqueEmail, verifiedUser } from '../support/account.js';
import { backends } from '../support/db.js';

describe.each(backends)('login, sessions, CSRF and logout on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend);
  });
  afterAll(() => t.close());

  const login = (email: string, password = STRONG_PASSWORD, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password }, headers });
  const me = (cookie: string) =>
    t.app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } });

  it('signs in: HttpOnly SameSite=Lax cookie, csrfToken in the body, session token nowhere else', async () => {
    const { email } = await verifiedUser(t, 'login');
    const res = await login(email);
    expect(res.statusCode).toBe(200);
    const setCookie = String(res.headers['set-cookie']);
    expect(setCookie).toMatch(/^latchkey_session=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    expect(setCookie).toMatch(/Path=\//);
    expect(setCookie).not.toMatch(/Secure/);
    const body = res.json();
    expect(body).toMatchObject({
      user: { email, emailVerified: true },
      csrfToken: expect.any(String),
    });
    const sessionToken = cookieFrom(res.headers['set-cookie']).split('=')[1] as string;
    expect(res.body).not.toContain(sessionToken);
    expect(res.headers['cache-control']).toBe('no-store');

    const current = await me(cookieFrom(res.headers['set-cookie']));
    expect(current.statusCode).toBe(200);
    // …with how and when the session signed in: a password, just now.
    expect(current.json()).toEqual({
      ...body,
      amr: ['pwd'],
      authenticatedAt: t.clock.now().toISOString(),
    });
  });

  it('stores only the SHA-256 of the session token', async () => {
    const { email } = await verifiedUser(t, 'hashed');
    const res = await login(email);
    const token = cookieFrom(res.headers['set-cookie']).split('=')[1] as string;
    const rows = await t.database.db.selectFrom('sessions').select('token_hash').execute();
    expect(rows.some((r) => r.token_hash.includes(token))).toBe(false);
    const { hashToken } = await import('../../src/core/tokens.js');
    expect(rows.some((r) => r.token_hash === hashToken(token))).toBe(true);
  });

  it('gives one answer for an unknown email and a wrong password, spending a hash on both', async () => {
    const { email } = await verifiedUser(t, 'creds');
    const dummy = vi.spyOn(t.hasher, 'verifyDummy');
    const unknown = await login(uniqueEmail('ghost'));
    expect(dummy).toHaveBeenCalledTimes(1);
    dummy.mockRestore();
    const wrong = await login(email, 'not the right passphrase at all');
    for (const res of [unknown, wrong]) {
      expect(res.statusCode).toBe(401);
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    const strip = (body: Record<string, unknown>) => ({ ...body, requestId: undefined });
    expect(strip(unknown.json())).toEqual(strip(wrong.json()));
    expect(unknown.json().code).toBe('invalid_credentials');
  });

  it('says email_not_verified only after the right password', async () => {
    const email = uniqueEmail('unverified');
    await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email, password: STRONG_PASSWORD },
    });
    const wrong = await login(email, 'not the right passphrase at all');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().code).toBe('invalid_credentials');
    const right = await login(email);
    expect(right.statusCode).toBe(403);
    expect(right.json().code).toBe('email_not_verified');
    expect(right.headers['set-cookie']).toBeUndefined();
  });

  it('matches the email case-insensitively', async () => {
    const { email } = await verifiedUser(t, 'CaseUser');
    expect((await login(email.toUpperCase())).statusCode).toBe(200);
  });

  it('issues a new token at every login and revokes the cookie the browser came with', async () => {
    const { email } = await verifiedUser(t, 'fixation');
    const first = cookieFrom((await login(email)).headers['set-cookie']);
    const second = cookieFrom(
      (await login(email, STRONG_PASSWORD, { cookie: first })).headers['set-cookie'],
    );
    expect(second).not.toBe(first);
    expect((await me(first)).statusCode).toBe(401);
    expect((await me(second)).statusCode).toBe(200);
  });

  it('never adopts a cookie value planted before login (session fixation)', async () => {
    const { email } = await verifiedUser(t, 'planted');
    const planted = `latchkey_session=${'x'.repeat(43)}`;
    const res = await login(email, STRONG_PASSWORD, { cookie: planted });
    expect(cookieFrom(res.headers['set-cookie'])).not.toBe(planted);
    expect((await me(planted)).statusCode).toBe(401);
  });

  it('answers /auth/me without a session, or with a bogus one, with 401 unauthenticated', async () => {
    const none = await t.app.inject({ method: 'GET', url: '/auth/me' });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toMatchObject({ code: 'unauthenticated', status: 401 });
    const bogus = await me('latchkey_session=garbage');
    expect(bogus.statusCode).toBe(401);
  });

  it('requires the CSRF header for logout, then revokes the session server-side', async () => {
    const { email } = await verifiedUser(t, 'logout');
    const res = await login(email);
    const cookie = cookieFrom(res.headers['set-cookie']);
    const { csrfToken } = res.json();

    const missing = await t.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { cookie },
    });
    expect(missing.statusCode).toBe(403);
    expect(missing.json().code).toBe('csrf_failed');
    const wrong = await t.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: {
        cookie,
        'x-csrf-token': `${csrfToken.slice(0, -1)}${csrfToken.endsWith('A') ? 'B' : 'A'}`,
      },
    });
    expect(wrong.statusCode).toBe(403);
    expect((await me(cookie)).statusCode).toBe(200);

    const ok = await t.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { cookie, 'x-csrf-token': csrfToken },
    });
    expect(ok.statusCode).toBe(204);
    expect(String(ok.headers['set-cookie'])).toMatch(
      /latchkey_session=;.*Expires=Thu, 01 Jan 1970/,
    );
    // The old cookie replayed is refused: logout is server-side, not just a cleared cookie.
    expect((await me(cookie)).statusCode).toBe(401);
    const rows = await t.database.db
      .selectFrom('sessions')
      .select(['revoked_at', 'revoked_reason'])
      .where('revoked_reason', '=', 'logout')
      .execute();
    expect(rows.length).toBeGreaterThan(0);
  });

  it('refuses login and register from a foreign Origin, and allows its own', async () => {
    const { email } = await verifiedUser(t, 'origin');
    const evil = await login(email, STRONG_PASSWORD, { origin: 'https://evil.example' });
    expect(evil.statusCode).toBe(403);
    expect(evil.json().code).toBe('origin_not_allowed');
    expect(evil.headers['set-cookie']).toBeUndefined();
    const reg = await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      headers: { origin: 'https://evil.example' },
      payload: { email: uniqueEmail('o'), password: STRONG_PASSWORD },
    });
    expect(reg.statusCode).toBe(403);
    const own = await login(email, STRONG_PASSWORD, { origin: 'http://localhost:3000' });
    expect(own.statusCode).toBe(200);
  });

  it('expires a session after the idle timeout, and slides it on use', async () => {
    const { email } = await verifiedUser(t, 'idle');
    const cookie = cookieFrom((await login(email)).headers['set-cookie']);
    t.clock.advance(6 * 86400);
    expect((await me(cookie)).statusCode).toBe(200); // slides the idle expiry
    t.clock.advance(6 * 86400);
    expect((await me(cookie)).statusCode).toBe(200);
    t.clock.advance(7 * 86400 + 1);
    expect((await me(cookie)).statusCode).toBe(401);
  });

  it('expires a session at the absolute timeout however active it is', async () => {
    const { email } = await verifiedUser(t, 'absolute');
    const cookie = cookieFrom((await login(email)).headers['set-cookie']);
    for (let day = 5; day <= 25; day += 5) {
      t.clock.advance(5 * 86400);
      expect((await me(cookie)).statusCode).toBe(200);
    }
    t.clock.advance(4 * 86400);
    expect((await me(cookie)).statusCode).toBe(200); // day 29
    t.clock.advance(86400 + 1); // past day 30, never idle for more than 5 days
    expect((await me(cookie)).statusCode).toBe(401);
  });

  it('writes last-seen at most once a minute', async () => {
    const { email } = await verifiedUser(t, 'lastseen');
    const cookie = cookieFrom((await login(email)).headers['set-cookie']);
    const lastSeen = async () =>
      (
        await t.database.db
          .selectFrom('sessions')
          .innerJoin('users', 'users.id', 'sessions.user_id')
          .select('sessions.last_seen_at')
          .where('users.email', '=', email)
          .where('sessions.revoked_at', 'is', null)
          .executeTakeFirstOrThrow()
      ).last_seen_at.getTime();
    const before = await lastSeen();
    t.clock.advance(30);
    await me(cookie);
    expect(await lastSeen()).toBe(before);
    t.clock.advance(31);
    await me(cookie);
    expect(await lastSeen()).toBeGreaterThan(before);
  });

  it('never logs passwords, session tokens or cookies', async () => {
    const { email } = await verifiedUser(t, 'logs');
    const res = await login(email);
    const cookie = cookieFrom(res.headers['set-cookie']);
    await me(cookie);
    const logs = t.logs();
    expect(logs).toContain('/auth/me');
    expect(logs).not.toContain(STRONG_PASSWORD);
    expect(logs).not.toContain(cookie.split('=')[1]);
    expect(logs).not.toContain(res.json().csrfToken);
  });
});

describe.each(backends)('cookies behind https on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend, {
      PUBLIC_URL: 'https://auth.example.com',
      REQUIRE_EMAIL_VERIFICATION: 'false',
    });
  });
  afterAll(() => t.close());

  it('uses a Secure __Host- cookie and sends HSTS', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email: uniqueEmail('tls'), password: STRONG_PASSWORD },
    });
    expect(res.statusCode).toBe(201);
    const setCookie = String(res.headers['set-cookie']);
    expect(setCookie).toMatch(/^__Host-latchkey_session=/);
    expect(setCookie).toMatch(/Secure/);
    expect(setCookie).toMatch(/Path=\//);
    expect(setCookie).not.toMatch(/Domain=/);
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
  });
});
