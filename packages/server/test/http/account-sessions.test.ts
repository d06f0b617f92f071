import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceLabel } from '../../src/core/devices.js';
import {
  ACCOUNT_TEST_ENV,
  auditOf,
  type Device,
  login,
  meStatus,
  verifiedUser,
} from '../support/account.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';

const FIREFOX_WINDOWS =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
const SAFARI_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1';
const CHROME_ANDROID =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36';

describe('deviceLabel', () => {
  it('names browser, system and hardware', () => {
    expect(deviceLabel(FIREFOX_WINDOWS)).toBe('Firefox 133 on Windows 10');
    expect(deviceLabel(SAFARI_IPHONE)).toBe('Mobile Safari 17 on iOS 17.1 (Apple iPhone)');
    expect(deviceLabel(CHROME_ANDROID)).toBe('Chrome 131 on Android 14 (Google Pixel 8)');
  });
  it('falls back to the product token, or "Unknown device"', () => {
    expect(deviceLabel('curl/8.5.0')).toBe('curl/8.5.0');
    expect(deviceLabel(null)).toBe('Unknown device');
    expect(deviceLabel('')).toBe('Unknown device');
    expect(deviceLabel('((( )))')).toBe('Unknown device');
  });
});

describe.each(backends)('signed-in devices on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend, ACCOUNT_TEST_ENV);
  });
  afterAll(() => t.close());

  const list = (device: Device) =>
    t.app.inject({ method: 'GET', url: '/auth/sessions', headers: { cookie: device.cookie } });
  const revoke = (device: Device, id: string, csrf = true) =>
    t.app.inject({
      method: 'DELETE',
      url: `/auth/sessions/${id}`,
      headers: csrf ? device.headers : { cookie: device.cookie },
    });
  const revokeOthers = (device: Device) =>
    t.app.inject({ method: 'DELETE', url: '/auth/sessions', headers: device.headers });

  it('lists the live sessions with a device label and marks the current one', async () => {
    const { email } = await verifiedUser(t, 'list');
    const laptop = await login(t, email, undefined, FIREFOX_WINDOWS);
    t.clock.advance(120);
    const phone = await login(t, email, undefined, SAFARI_IPHONE);
    const gone = await login(t, email, undefined, CHROME_ANDROID);
    await t.app.inject({ method: 'POST', url: '/auth/logout', headers: gone.headers });

    const res = await list(laptop);
    expect(res.statusCode).toBe(200);
    const { sessions } = res.json() as {
      sessions: { id: string; device: string; current: boolean }[];
    };
    expect(sessions).toHaveLength(2);
    expect(sessions.map((s) => s.device)).toEqual([
      'Mobile Safari 17 on iOS 17.1 (Apple iPhone)',
      'Firefox 133 on Windows 10',
    ]);
    expect(sessions.map((s) => s.current)).toEqual([false, true]);
    expect(sessions[1]).toEqual({
      id: expect.any(String),
      createdAt: expect.any(String),
      lastSeenAt: expect.any(String),
      ip: '127.0.0.1',
      userAgent: FIREFOX_WINDOWS,
      device: 'Firefox 133 on Windows 10',
      current: true,
    });
    // Nothing secret in the list: no token hash, no CSRF token.
    expect(res.body).not.toContain(laptop.csrfToken);
    expect(res.body).not.toContain(phone.csrfToken);
    expect(res.body).not.toMatch(/token/i);
    expect((await t.app.inject({ method: 'GET', url: '/auth/sessions' })).statusCode).toBe(401);
  });

  it('signs out one of your own sessions by id', async () => {
    const { email, id: userId } = await verifiedUser(t, 'one');
    const laptop = await login(t, email);
    const phone = await login(t, email);
    const phoneId = (await list(phone)).json().sessions.find((s: { current: boolean }) => s.current)
      .id as string;

    const noCsrf = await revoke(laptop, phoneId, false);
    expect(noCsrf.statusCode).toBe(403);
    expect(await meStatus(t, phone)).toBe(200);

    const res = await revoke(laptop, phoneId);
    expect(res.statusCode).toBe(204);
    expect(await meStatus(t, phone)).toBe(401);
    expect(await meStatus(t, laptop)).toBe(200);
    // Already signed out: now unknown to the list, so 404.
    expect((await revoke(laptop, phoneId)).statusCode).toBe(404);
    const audit = await auditOf(t, userId);
    expect(audit.rows.find((r) => r.type === 'session.revoked')?.data).toEqual({
      sessionId: phoneId,
    });
  });

  it("answers 404 for someone else's session id and for a malformed id, touching nothing", async () => {
    const alice = await login(t, (await verifiedUser(t, 'alice')).email);
    const bob = await login(t, (await verifiedUser(t, 'bob')).email);
    const bobId = (await list(bob)).json().sessions[0].id as string;

    const foreign = await revoke(alice, bobId);
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json().code).toBe('not_found');
    expect(await meStatus(t, bob)).toBe(200);

    for (const id of ['not-a-uuid', '00000000-0000-7000-8000-000000000000', "1'%20or%201=1"]) {
      const res = await revoke(alice, id);
      expect(res.statusCode).toBe(404);
      expect(res.json().code).toBe('not_found');
    }
    expect(await meStatus(t, alice)).toBe(200);
  });

  it('signing out the current session by id clears the cookie', async () => {
    const device = await login(t, (await verifiedUser(t, 'self')).email);
    const id = (await list(device)).json().sessions[0].id as string;
    const res = await revoke(device, id);
    expect(res.statusCode).toBe(204);
    expect(String(res.headers['set-cookie'])).toMatch(/latchkey_session=;/);
    expect(await meStatus(t, device)).toBe(401);
  });

  it('DELETE /auth/sessions signs out every session but the current one', async () => {
    const { email, id: userId } = await verifiedUser(t, 'everywhere');
    const devices = [await login(t, email), await login(t, email), await login(t, email)];
    const [current, ...others] = devices as [Device, ...Device[]];
    const res = await revokeOthers(current);
    expect(res.statusCode).toBe(204);
    expect(await meStatus(t, current)).toBe(200);
    for (const other of others) expect(await meStatus(t, other)).toBe(401);
    const { sessions } = (await list(current)).json();
    expect(sessions).toHaveLength(1);
    expect(sessions[0].current).toBe(true);
    const audit = await auditOf(t, userId);
    expect(audit.rows.find((r) => r.type === 'sessions.revoked_others')?.data).toMatchObject({
      revokedSessions: 2,
    });
  });
});
