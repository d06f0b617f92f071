import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCOUNT_TEST_ENV,
  auditOf,
  bearerMe as bearerMeOf,
  type Device,
  login,
  loginStatus,
  meStatus,
  OTHER_PASSWORD,
  tokenPair as tokenPairOf,
  uniqueEmail,
  verifiedUser,
} from '../support/account.js';
import { cookieFrom, createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';

/**
 * A session that lived through a change of the credentials behind it gets a new id, and logout
 * ends every session the request presented.
 */
describe.each(backends)('session rotation and logout on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend, ACCOUNT_TEST_ENV);
  });
  afterAll(() => t.close());

  const tokenPair = (email: string, password = STRONG_PASSWORD) => tokenPairOf(t, email, password);
  const bearerMe = (accessToken: string) => bearerMeOf(t, accessToken);
  const logout = (headers: Record<string, string>) =>
    t.app.inject({ method: 'POST', url: '/auth/logout', headers });
  const refresh = (refreshToken: string) =>
    t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } });
  /** The device a Set-Cookie answer moved the browser to, with its CSRF token from /auth/me. */
  const followCookie = async (setCookie: string | string[] | undefined): Promise<Device> => {
    const cookie = cookieFrom(setCookie);
    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } });
    expect(me.statusCode).toBe(200);
    const { csrfToken } = me.json() as { csrfToken: string };
    return { cookie, csrfToken, headers: { cookie, 'x-csrf-token': csrfToken } };
  };
  const sessionsOf = (userId: string) =>
    t.database.db
      .selectFrom('sessions')
      .select(['id', 'revoked_at', 'revoked_reason', 'absolute_expires_at'])
      .where('user_id', '=', userId)
      .orderBy('id')
      .execute();

  describe('POST /auth/change-password', () => {
    it('with the cookie: a new session token and CSRF token; the old cookie is refused', async () => {
      const { email, id } = await verifiedUser(t, 'rotate');
      const device = await login(t, email);
      const [before] = await sessionsOf(id);
      const res = await t.app.inject({
        method: 'POST',
        url: '/auth/change-password',
        headers: device.headers,
        payload: { currentPassword: STRONG_PASSWORD, newPassword: OTHER_PASSWORD },
      });
      expect(res.statusCode).toBe(204);
      expect(res.headers['set-cookie']).toMatch(/^latchkey_session=[A-Za-z0-9_-]{43};.*HttpOnly/);
      const rotated = await followCookie(res.headers['set-cookie']);
      expect(rotated.cookie).not.toBe(device.cookie);
      expect(rotated.csrfToken).not.toBe(device.csrfToken);

      // The old token and the old CSRF token are dead; the user stays signed in with the new.
      expect(await meStatus(t, device)).toBe(401);
      const stale = await t.app.inject({
        method: 'DELETE',
        url: '/auth/sessions',
        headers: { cookie: rotated.cookie, 'x-csrf-token': device.csrfToken },
      });
      expect(stale.json().code).toBe('csrf_failed');
      const fresh = await t.app.inject({
        method: 'DELETE',
        url: '/auth/sessions',
        headers: rotated.headers,
      });
      expect(fresh.statusCode).toBe(204);

      const rows = await sessionsOf(id);
      expect(rows).toHaveLength(2);
      expect(rows[0]).toMatchObject({ id: before?.id, revoked_reason: 'rotated' });
      expect(rows[1]?.revoked_at).toBeNull();
      // A rotation carries the session on: it does not extend its absolute lifetime.
      expect(rows[1]?.absolute_expires_at).toEqual(before?.absolute_expires_at);
      const audit = await auditOf(t, id);
      expect(audit.rows.find((r) => r.type === 'session.rotated')?.data).toMatchObject({
        previousSessionId: before?.id,
        sessionId: rows[1]?.id,
        reason: 'password_changed',
      });
    });

    it('with a bearer token: the token session stays (nothing to hand a cookie to), the rest end', async () => {
      const { email } = await verifiedUser(t, 'bearer-change');
      const browser = await login(t, email);
      const pair = await tokenPair(email);
      const res = await t.app.inject({
        method: 'POST',
        url: '/auth/change-password',
        headers: { authorization: `Bearer ${pair.accessToken}` },
        payload: { currentPassword: STRONG_PASSWORD, newPassword: OTHER_PASSWORD },
      });
      expect(res.statusCode).toBe(204);
      expect(res.headers['set-cookie']).toBeUndefined();
      expect((await bearerMe(pair.accessToken)).statusCode).toBe(200);
      expect((await refresh(pair.refreshToken)).statusCode).toBe(200);
      expect(await meStatus(t, browser)).toBe(401);
    });
  });

  describe('email change confirmed with POST /auth/verify-email', () => {
    const requestChange = async (device: Device, newEmail: string) => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/auth/change-email',
        headers: device.headers,
        payload: { newEmail, password: STRONG_PASSWORD },
      });
      expect(res.statusCode).toBe(202);
      return t.tokenFromLatestMail(newEmail);
    };

    it('in the signed-in browser: that session is rotated (new cookie, old one refused)', async () => {
      const { email, id } = await verifiedUser(t, 'email-rotate');
      const device = await login(t, email);
      const newEmail = uniqueEmail('moved');
      const token = await requestChange(device, newEmail);
      const res = await t.app.inject({
        method: 'POST',
        url: '/auth/verify-email',
        headers: { cookie: device.cookie },
        payload: { token },
      });
      expect(res.statusCode).toBe(200);
      expect(res.json().user).toMatchObject({ id, email: newEmail });
      const rotated = await followCookie(res.headers['set-cookie']);
      expect(await meStatus(t, device)).toBe(401);
      const me = await t.app.inject({
        method: 'GET',
        url: '/auth/me',
        headers: { cookie: rotated.cookie },
      });
      expect(me.json().user.email).toBe(newEmail);
    });

    it('in another browser: nothing to rotate there; the requesting session keeps working', async () => {
      const { email } = await verifiedUser(t, 'email-elsewhere');
      const device = await login(t, email);
      const newEmail = uniqueEmail('moved');
      const token = await requestChange(device, newEmail);
      const res = await t.app.inject({
        method: 'POST',
        url: '/auth/verify-email',
        payload: { token },
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(await meStatus(t, device)).toBe(200);
    });

    it("a cookie of another user's session is neither rotated nor revoked", async () => {
      const { email } = await verifiedUser(t, 'email-owner');
      const { email: otherEmail } = await verifiedUser(t, 'bystander');
      const owner = await login(t, email);
      const bystander = await login(t, otherEmail);
      const token = await requestChange(owner, uniqueEmail('moved'));
      const res = await t.app.inject({
        method: 'POST',
        url: '/auth/verify-email',
        headers: { cookie: bystander.cookie },
        payload: { token },
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(await meStatus(t, bystander)).toBe(200);
      expect(await meStatus(t, owner)).toBe(200);
    });
  });

  describe('POST /auth/logout with a cookie and a bearer token', () => {
    it('revokes both sessions and clears the cookie', async () => {
      const { email } = await verifiedUser(t, 'both');
      const browser = await login(t, email);
      const pair = await tokenPair(email);
      const res = await logout({
        cookie: browser.cookie,
        authorization: `Bearer ${pair.accessToken}`,
      });
      expect(res.statusCode).toBe(204);
      expect(String(res.headers['set-cookie'])).toMatch(/latchkey_session=;/);
      expect((await bearerMe(pair.accessToken)).statusCode).toBe(401);
      expect((await refresh(pair.refreshToken)).statusCode).toBe(401);
      // The cleared cookie's session is over too: a copy of the cookie is refused.
      expect(await meStatus(t, browser)).toBe(401);
    });

    it('also signs out a cookie of another account the client presented', async () => {
      const { email } = await verifiedUser(t, 'bearer-owner');
      const { email: cookieEmail } = await verifiedUser(t, 'cookie-owner');
      const browser = await login(t, cookieEmail);
      const pair = await tokenPair(email);
      const res = await logout({
        cookie: browser.cookie,
        authorization: `Bearer ${pair.accessToken}`,
      });
      expect(res.statusCode).toBe(204);
      expect(await meStatus(t, browser)).toBe(401);
      expect((await bearerMe(pair.accessToken)).statusCode).toBe(401);
      expect(await loginStatus(t, cookieEmail, STRONG_PASSWORD)).toBe(200);
    });

    it('with an invalid bearer token: 401, and the live cookie is neither revoked nor cleared', async () => {
      const { email } = await verifiedUser(t, 'bad-bearer');
      const browser = await login(t, email);
      const res = await logout({ ...browser.headers, authorization: 'Bearer not-a-token' });
      expect(res.statusCode).toBe(401);
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(await meStatus(t, browser)).toBe(200);
    });
  });
});
