import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/config/config.js';
import { uniqueEmail, verifiedUser as signUp } from '../support/account.js';
import { createTestApp as createApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { type Backend, backends } from '../support/db.js';
import { cleanupPrefix, redisUrl, uniquePrefix } from '../support/redis.js';

/**
 * Device cookies: a browser that signed in to an account before keeps signing in while
 * strangers fail against that account (OWASP "Slow Down Online Guessing Attacks with Device
 * Cookies"); everyone else keeps the account-wide limits and throttle.
 */

const WRONG = 'not the right passphrase at all';
let requests = 0;
/** A new client address for every request, so the per-IP limit never decides. */
const nextIp = () => {
  const n = ++requests;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
};

function expectRateLimited(res: LightMyRequestResponse) {
  expect(res.statusCode).toBe(429);
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect(res.json()).toMatchObject({ code: 'rate_limited', status: 429 });
}

/** The device cookie of a response, as a `name=value` pair to send back. */
function deviceCookieOf(res: LightMyRequestResponse): string {
  const header = [res.headers['set-cookie'] ?? []]
    .flat()
    .find((c) => /^(__Host-)?latchkey_device=/.test(c));
  if (!header) throw new Error(`no device cookie in ${JSON.stringify(res.headers['set-cookie'])}`);
  return header.split(';')[0] as string;
}

const variants: [string, Backend, boolean][] = [
  ...backends.map((b): [string, Backend, boolean] => [b, b, false]),
  ...(redisUrl ? [['pglite + Redis', 'pglite', true] as [string, Backend, boolean]] : []),
];

describe.each(variants)('device cookies on %s', (_name, backend, withRedis) => {
  const prefixes: string[] = [];
  const createTestApp = (env: Env) => {
    if (!withRedis) return createApp(backend, env);
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    return createApp(backend, { ...env, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix });
  };
  // The shipped limits: 10 sign-ins per account in 5 minutes, delays from the 5th failure,
  // password login off for untrusted clients after 100.
  const limits: Env = { RATE_LIMITS: 'on' };

  /** The app of the running block below (each block starts its own). */
  let t: TestApp;
  afterAll(async () => {
    for (const prefix of prefixes) if (redisUrl) await cleanupPrefix(redisUrl, prefix);
  });

  const login = (email: string, password: string, cookie?: string) =>
    t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password },
      remoteAddress: nextIp(),
      headers: cookie ? { cookie } : {},
    });

  const verifiedUser = (tag: string) =>
    signUp(t, tag, STRONG_PASSWORD, { remoteAddress: nextIp() });

  /** An owner who signed in on this browser before: the device cookie it was given. */
  async function ownerDevice(email: string) {
    const res = await login(email, STRONG_PASSWORD, undefined);
    expect(res.statusCode).toBe(200);
    return deviceCookieOf(res);
  }

  async function strangersFail(email: string, times: number, advanceSeconds = 0) {
    for (let n = 0; n < times; n++) {
      const res = await login(email, WRONG);
      expect([401, 429]).toContain(res.statusCode);
      t.clock.advance(advanceSeconds);
    }
  }

  async function auditTypes(userId: string) {
    const rows = await t.database.db
      .selectFrom('audit_events')
      .select(['type', 'data'])
      .where('user_id', '=', userId)
      .orderBy('id')
      .execute();
    return rows;
  }

  describe('with the shipped limits', () => {
    beforeAll(async () => {
      t = await createTestApp(limits);
    });
    afterAll(() => t.close());

    it('sets a long-lived HttpOnly device cookie at sign-in, after the session cookie', async () => {
      const { email } = await verifiedUser('cookie');
      const res = await login(email, STRONG_PASSWORD);
      expect(res.statusCode).toBe(200);
      const cookies = [res.headers['set-cookie'] ?? []].flat();
      expect(cookies[0]).toMatch(/^latchkey_session=/);
      const device = cookies.find((c) => c.startsWith('latchkey_device=')) as string;
      expect(device).toMatch(/; Max-Age=31536000/);
      expect(device).toMatch(/; Path=\//);
      expect(device).toMatch(/; HttpOnly/);
      expect(device).toMatch(/; SameSite=Lax/);
      expect(device).not.toContain(email.split('@')[0] as string);
    });

    it('(a) lets the owner, who signed in on this browser before, in after 10 strangers failed', async () => {
      const { email } = await verifiedUser('owner');
      const device = await ownerDevice(email);
      await strangersFail(email, 10);
      const res = await login(email, STRONG_PASSWORD, device);
      expect(res.statusCode).toBe(200);
      // Two requests a minute from strangers do not keep the owner out either.
      for (let minute = 0; minute < 5; minute++) {
        await strangersFail(email, 2, 30);
        expect((await login(email, STRONG_PASSWORD, device)).statusCode).toBe(200);
      }
    });

    it('(b) still answers 429 to a client without a device cookie after the strangers failed', async () => {
      const { email } = await verifiedUser('newbrowser');
      const unknown = uniqueEmail('ghost');
      await ownerDevice(email);
      await strangersFail(email, 10);
      await strangersFail(unknown, 10);
      const right = await login(email, STRONG_PASSWORD);
      const ghost = await login(unknown, STRONG_PASSWORD);
      expectRateLimited(right);
      expectRateLimited(ghost);
      // The same 429 whether or not the account exists.
      const { requestId: _a, ...rightBody } = right.json();
      const { requestId: _b, ...ghostBody } = ghost.json();
      expect(rightBody).toEqual(ghostBody);
      // The token endpoint has no device cookie: it keeps the account-wide limits and throttle.
      const token = await t.app.inject({
        method: 'POST',
        url: '/auth/token',
        payload: { email, password: STRONG_PASSWORD },
        remoteAddress: nextIp(),
      });
      expectRateLimited(token);
    });

    it('(c) throttles a device on its own wrong passwords, and only that device', async () => {
      const { email, id } = await verifiedUser('clumsy');
      const device = await ownerDevice(email);
      const otherBrowser = await ownerDevice(email);
      for (let n = 0; n < 5; n++) {
        expect((await login(email, WRONG, device)).statusCode).toBe(401);
      }
      // From the 5th failure that device waits, even with the right password...
      expectRateLimited(await login(email, STRONG_PASSWORD, device));
      // ...while the account stays open to its other browser and to a new one.
      expect((await login(email, STRONG_PASSWORD, otherBrowser)).statusCode).toBe(200);
      expect((await login(email, STRONG_PASSWORD)).statusCode).toBe(200);
      const events = await auditTypes(id);
      const throttled = events.filter((e) => e.type === 'login.device_throttled');
      expect(throttled).toHaveLength(1);
      expect(throttled[0]?.data).toMatchObject({ failures: 5 });
      expect(events.map((e) => e.type)).not.toContain('login.throttled');
      // After the delay the right password gets in and clears the device's count (without
      // that, the next attempt would wait 2 s). Ten requests: the device's window is full.
      t.clock.advance(1);
      expect((await login(email, STRONG_PASSWORD, device)).statusCode).toBe(200);
      for (let n = 0; n < 3; n++) {
        expect((await login(email, WRONG, device)).statusCode).toBe(401);
      }
    });

    it('(c) gives a trusted device a request window of its own', async () => {
      const { email } = await verifiedUser('busy');
      const device = await ownerDevice(email);
      // Ten requests from the device in the window, never five failures in a row: the device's
      // throttle never refuses, so the 11th meets the window alone.
      for (let round = 0; round < 2; round++) {
        for (let n = 0; n < 4; n++)
          expect((await login(email, WRONG, device)).statusCode).toBe(401);
        expect((await login(email, STRONG_PASSWORD, device)).statusCode).toBe(200);
      }
      expectRateLimited(await login(email, STRONG_PASSWORD, device));
      // The account-wide window was not spent by the device: a new browser gets in.
      expect((await login(email, STRONG_PASSWORD)).statusCode).toBe(200);
    });

    it("(d) gives no benefit to a forged cookie or another account's cookie", async () => {
      const { email } = await verifiedUser('victim');
      const { email: attacker } = await verifiedUser('attacker');
      const attackersDevice = await ownerDevice(attacker);
      const victimsDevice = await ownerDevice(email);
      await strangersFail(email, 10);
      expectRateLimited(await login(email, STRONG_PASSWORD, attackersDevice));
      const [name, value] = victimsDevice.split('=') as [string, string];
      const forged = `${name}=${value.slice(0, -2)}${value.endsWith('AA') ? 'BB' : 'AA'}`;
      expectRateLimited(await login(email, STRONG_PASSWORD, forged));
      for (const garbage of ['', 'x', 'v1.a.b.c', `${'A'.repeat(3000)}`]) {
        expectRateLimited(await login(email, STRONG_PASSWORD, `${name}=${garbage}`));
      }
      // The real device still gets in.
      expect((await login(email, STRONG_PASSWORD, victimsDevice)).statusCode).toBe(200);
    });
  });

  describe('with the lock after 100 failures', () => {
    // Redis windows expire in real time, not on the test clock: the per-account request window,
    // which the block above covers, is off here so the throttle alone meets 100 spaced failures.
    beforeAll(async () => {
      t = await createTestApp({ ...limits, RATE_LIMIT_SIGNIN_ACCOUNT: 'off' });
    });
    afterAll(() => t.close());

    it('(e) after 100 failures from strangers, locks untrusted clients but not the owner device', async () => {
      const { email, id } = await verifiedUser('siege');
      const device = await ownerDevice(email);
      // 100 failures, spaced so that the delays never refuse them.
      await strangersFail(email, 100, 900);
      t.clock.advance(86_400);
      expectRateLimited(await login(email, STRONG_PASSWORD));
      const ok = await login(email, STRONG_PASSWORD, device);
      expect(ok.statusCode).toBe(200);
      // A trusted sign-in does not lift the lock for everyone else: a reset does.
      expectRateLimited(await login(email, STRONG_PASSWORD));
      const types = (await auditTypes(id)).map((e) => e.type);
      expect(types.filter((type) => type === 'login.locked')).toHaveLength(1);
      expect(types.filter((type) => type === 'login.failed')).toHaveLength(100);
    });
  });
});

describe('device cookies behind https', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createApp('pglite', { PUBLIC_URL: 'https://auth.example.com' });
  });
  afterAll(() => t.close());

  it('are __Host- prefixed and Secure, like the session cookie', async () => {
    const origin = { origin: 'https://auth.example.com' };
    const { email } = await signUp(t, 'https', STRONG_PASSWORD, { headers: origin });
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: STRONG_PASSWORD },
      headers: origin,
    });
    expect(res.statusCode).toBe(200);
    const device = [res.headers['set-cookie'] ?? []]
      .flat()
      .find((c) => c.startsWith('__Host-latchkey_device=')) as string;
    expect(device).toMatch(/; Secure/);
    expect(device).toMatch(/; Path=\//);
    expect(device).toMatch(/; HttpOnly/);
  });
});
