import { randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/config/config.js';
import { createTestApp as createApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { type Backend, backends } from '../support/db.js';
import { cleanupPrefix, redisUrl, uniquePrefix } from '../support/redis.js';

const uniqueEmail = (tag: string) => `${tag}-${randomUUID().slice(0, 8)}@example.com`;
const WRONG = 'not the right passphrase at all';

/** Problem bodies compared without their request id. */
const strip = (res: LightMyRequestResponse) => {
  const { requestId: _requestId, ...rest } = res.json();
  return rest;
};

function expectRateLimited(res: LightMyRequestResponse) {
  expect(res.statusCode).toBe(429);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect(res.json()).toMatchObject({
    type: 'urn:latchkey:problem:rate_limited',
    status: 429,
    code: 'rate_limited',
    title: 'Too Many Requests',
  });
}

async function verifiedUser(t: TestApp, tag: string) {
  const email = uniqueEmail(tag);
  await t.app.inject({
    method: 'POST',
    url: '/auth/register',
    payload: { email, password: STRONG_PASSWORD },
    remoteAddress: `10.9.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
  });
  const token = await t.tokenFromLatestMail(email);
  await t.app.inject({
    method: 'POST',
    url: '/auth/verify-email',
    payload: { token, password: STRONG_PASSWORD },
    remoteAddress: `10.8.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
  });
  return email;
}

const post = (
  t: TestApp,
  url: string,
  payload: unknown,
  remoteAddress: string,
  headers: Record<string, string> = {},
) => t.app.inject({ method: 'POST', url, payload: payload as object, remoteAddress, headers });

/** Each database backend, and the embedded one with Redis as the shared store when available. */
const variants: [string, Backend, boolean][] = [
  ...backends.map((b): [string, Backend, boolean] => [b, b, false]),
  ...(redisUrl ? [['pglite + Redis', 'pglite', true] as [string, Backend, boolean]] : []),
];

describe.each(variants)('rate limits and the login throttle on %s', (_name, backend, withRedis) => {
  const prefixes: string[] = [];
  /** A test app; with Redis, on a key prefix of its own. */
  const createTestApp = (b: Backend, env: Env = {}) => {
    if (!withRedis) return createApp(b, env);
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    return createApp(b, { ...env, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix });
  };
  afterAll(async () => {
    for (const prefix of prefixes) if (redisUrl) await cleanupPrefix(redisUrl, prefix);
  });
  const ipLimits: Env = {
    RATE_LIMITS: 'on',
    RATE_LIMIT_SIGNIN_IP: '2/1m',
    RATE_LIMIT_REGISTER_IP: '2/1m',
    RATE_LIMIT_VERIFY_IP: '2/1m',
    RATE_LIMIT_RESEND_IP: '2/1m',
    RATE_LIMIT_FORGOT_IP: '2/1m',
    RATE_LIMIT_RESET_IP: '2/1m',
    RATE_LIMIT_CHANGE_EMAIL_IP: '2/1m',
    RATE_LIMIT_SIGNIN_ACCOUNT: '3/1m',
    RATE_LIMIT_REGISTER_ACCOUNT: '100/1m',
    RATE_LIMIT_RESEND_ACCOUNT: '2/1h',
    RATE_LIMIT_FORGOT_ACCOUNT: '2/1h',
    RATE_LIMIT_CHANGE_EMAIL_ACCOUNT: '100/1m',
  };

  describe('per-IP and per-account limits', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp(backend, ipLimits);
    });
    afterAll(() => t.close());

    const fakeToken = 'A'.repeat(43);
    const cases: [string, () => object][] = [
      ['/auth/login', () => ({ email: uniqueEmail('ip'), password: WRONG })],
      ['/auth/token', () => ({ email: uniqueEmail('ip'), password: WRONG })],
      ['/auth/register', () => ({ email: uniqueEmail('ip'), password: STRONG_PASSWORD })],
      ['/auth/verify-email', () => ({ token: fakeToken })],
      ['/auth/resend-verification', () => ({ email: uniqueEmail('ip') })],
      ['/auth/forgot-password', () => ({ email: uniqueEmail('ip') })],
      ['/auth/reset-password', () => ({ token: fakeToken, password: STRONG_PASSWORD })],
      ['/auth/change-email', () => ({ newEmail: uniqueEmail('ip'), password: WRONG })],
    ];
    it.each(cases.map(([url, body], i) => [url, body, i] as const))(
      'answers 429 rate_limited with Retry-After on %s past the per-IP limit',
      async (url, body, i) => {
        const ip = `192.0.2.${i + 10}`;
        for (let n = 0; n < 2; n++) {
          const res = await post(t, url, body(), ip);
          expect(res.statusCode).not.toBe(429);
        }
        const limited = await post(t, url, body(), ip);
        expectRateLimited(limited);
        expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
        // Another address is not affected.
        expect((await post(t, url, body(), `198.51.100.${i + 10}`)).statusCode).not.toBe(429);
      },
    );

    it('does not limit routes that declare no limit', async () => {
      const ip = '192.0.2.200';
      const unlimited: [string, string, object | undefined][] = [
        ['POST', '/auth/refresh', { refreshToken: fakeToken }],
        ['POST', '/auth/revoke', { refreshToken: fakeToken }],
        ['POST', '/auth/logout', undefined],
        ['GET', '/auth/me', undefined],
        ['PATCH', '/auth/me', { name: 'Ada' }],
        ['GET', '/healthz', undefined],
      ];
      for (const [method, url, payload] of unlimited) {
        for (let n = 0; n < 4; n++) {
          const res = await t.app.inject({
            method: method as 'GET',
            url,
            remoteAddress: ip,
            ...(payload ? { payload } : {}),
          });
          expect(res.statusCode, `${method} ${url}`).not.toBe(429);
          expect(res.headers['x-ratelimit-limit'], `${method} ${url}`).toBeUndefined();
        }
      }
    });

    it('counts login and token in one sign-in bucket per IP', async () => {
      const ip = '192.0.2.100';
      await post(t, '/auth/login', { email: uniqueEmail('x'), password: WRONG }, ip);
      await post(t, '/auth/token', { email: uniqueEmail('x'), password: WRONG }, ip);
      expectRateLimited(
        await post(t, '/auth/login', { email: uniqueEmail('x'), password: WRONG }, ip),
      );
    });

    it('holds per-account limits across many IPs, with one answer for real and unknown accounts', async () => {
      const real = await verifiedUser(t, 'acct');
      const unknown = uniqueEmail('nobody');
      const answers: Record<string, LightMyRequestResponse> = {};
      for (const email of [real, unknown]) {
        for (let n = 0; n < 3; n++) {
          const res = await post(t, '/auth/login', { email, password: WRONG }, `203.0.113.${n}`);
          expect(res.statusCode).toBe(401);
        }
        answers[email] = await post(
          t,
          '/auth/login',
          { email: email.toUpperCase(), password: STRONG_PASSWORD },
          '203.0.113.99',
        );
        expectRateLimited(answers[email] as LightMyRequestResponse);
      }
      expect(strip(answers[real] as LightMyRequestResponse)).toEqual(
        strip(answers[unknown] as LightMyRequestResponse),
      );
    });

    it('limits forgot-password and resend-verification per email across IPs', async () => {
      for (const url of ['/auth/forgot-password', '/auth/resend-verification']) {
        const email = uniqueEmail('mailbomb');
        expect((await post(t, url, { email }, '203.0.114.1')).statusCode).toBe(202);
        expect((await post(t, url, { email }, '203.0.114.2')).statusCode).toBe(202);
        expectRateLimited(await post(t, url, { email }, '203.0.114.3'));
      }
    });
  });

  describe('per-account limits of each route that declares one', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp(backend, {
        RATE_LIMITS: 'on',
        RATE_LIMIT_SIGNIN_ACCOUNT: '1/1m',
        RATE_LIMIT_REGISTER_ACCOUNT: '1/1m',
        RATE_LIMIT_RESEND_ACCOUNT: '1/1m',
        RATE_LIMIT_FORGOT_ACCOUNT: '1/1m',
        RATE_LIMIT_CHANGE_EMAIL_ACCOUNT: '1/1m',
      });
    });
    afterAll(() => t.close());

    // The account is named by the body's email, whoever asks: the second request for one
    // account is refused, from another address too.
    const cases: [string, (email: string) => object][] = [
      ['/auth/login', (email) => ({ email, password: WRONG })],
      ['/auth/token', (email) => ({ email, password: WRONG })],
      ['/auth/register', (email) => ({ email, password: STRONG_PASSWORD })],
      ['/auth/resend-verification', (email) => ({ email })],
      ['/auth/forgot-password', (email) => ({ email })],
    ];
    it.each(cases.map(([url, body], i) => [url, body, i] as const))(
      'answers 429 on %s past the per-account limit, across IPs',
      async (url, body, i) => {
        const email = uniqueEmail('acct-route');
        expect((await post(t, url, body(email), `192.0.2.${i + 20}`)).statusCode).not.toBe(429);
        expectRateLimited(await post(t, url, body(email), `198.51.100.${i + 20}`));
        // Another account is not affected.
        const other = await post(t, url, body(uniqueEmail('acct-other')), `192.0.2.${i + 20}`);
        expect(other.statusCode).not.toBe(429);
      },
    );
  });

  describe('the per-address window of email changes', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp(backend, {
        RATE_LIMITS: 'on',
        RATE_LIMIT_CHANGE_EMAIL_ACCOUNT: '1/1m',
      });
    });
    afterAll(() => t.close());

    const signedIn = async (tag: string) => {
      const email = await verifiedUser(t, tag);
      const res = await post(t, '/auth/login', { email, password: STRONG_PASSWORD }, '10.9.0.1');
      const cookie = String(res.headers['set-cookie']).split(';')[0] as string;
      return { cookie, 'x-csrf-token': res.json().csrfToken as string };
    };
    const changeTo = (
      newEmail: string,
      password: string,
      headers: Record<string, string>,
      ip: string,
    ) => post(t, '/auth/change-email', { newEmail, password }, ip, headers);

    it('counts only requests that can mail the address: signed in, with the right password', async () => {
      const target = uniqueEmail('change-target');
      // Anyone can send these, and none of them mails the address: they spend nothing.
      for (let i = 0; i < 3; i++) {
        expect((await changeTo(target, WRONG, {}, `203.0.113.${i}`)).statusCode).toBe(401);
      }
      const first = await signedIn('change-first');
      expect((await changeTo(target, WRONG, first, '192.0.2.60')).statusCode).toBe(401);
      // The first real request goes out; a second one for the address, from another account
      // and address, is refused.
      expect((await changeTo(target, STRONG_PASSWORD, first, '192.0.2.61')).statusCode).toBe(202);
      const second = await signedIn('change-second');
      expectRateLimited(await changeTo(target, STRONG_PASSWORD, second, '198.51.100.62'));
      expect(
        (await changeTo(uniqueEmail('change-other'), STRONG_PASSWORD, second, '198.51.100.62'))
          .statusCode,
      ).toBe(202);
    });
  });

  describe('the login throttle', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp(backend, { LOGIN_LOCK_AFTER: '8' });
    });
    afterAll(() => t.close());

    it('delays from the 5th failure without revealing the password, the same for unknown emails; success clears it', async () => {
      const email = await verifiedUser(t, 'throttle');
      const unknown = uniqueEmail('ghost');
      for (const address of [email, unknown]) {
        for (let n = 0; n < 5; n++) {
          const res = await post(
            t,
            '/auth/login',
            { email: address, password: WRONG },
            `10.1.0.${n}`,
          );
          expect(res.statusCode).toBe(401);
        }
      }
      // Throttled: even the right password gets the same 429 as a wrong one or an unknown email.
      const right = await post(t, '/auth/login', { email, password: STRONG_PASSWORD }, '10.1.1.1');
      const wrong = await post(t, '/auth/login', { email, password: WRONG }, '10.1.1.2');
      const ghost = await post(t, '/auth/login', { email: unknown, password: WRONG }, '10.1.1.3');
      for (const res of [right, wrong, ghost]) expectRateLimited(res);
      expect(right.headers['retry-after']).toBe('1');
      expect(strip(right)).toEqual(strip(wrong));
      expect(strip(right)).toEqual(strip(ghost));
      // The token endpoint shares the throttle.
      expectRateLimited(
        await post(t, '/auth/token', { email, password: STRONG_PASSWORD }, '10.1.1.4'),
      );

      t.clock.advance(1);
      expect(
        (await post(t, '/auth/login', { email, password: STRONG_PASSWORD }, '10.1.1.5')).statusCode,
      ).toBe(200);
      // Cleared: four more failures bring no delay.
      for (let n = 0; n < 4; n++) {
        expect(
          (await post(t, '/auth/login', { email, password: WRONG }, '10.1.2.1')).statusCode,
        ).toBe(401);
      }
      const events = await t.database.db
        .selectFrom('audit_events')
        .select(['type', 'data'])
        .where('type', '=', 'login.throttled')
        .execute();
      expect(events.length).toBeGreaterThanOrEqual(2);
    });

    it('locks password login after LOGIN_LOCK_AFTER failures until the throttle is cleared (reset)', async () => {
      const email = await verifiedUser(t, 'lock');
      for (let n = 0; n < 8; n++) {
        expect(
          (await post(t, '/auth/login', { email, password: WRONG }, '10.2.0.1')).statusCode,
        ).toBe(401);
        t.clock.advance(900);
      }
      t.clock.advance(86_400);
      const locked = await post(t, '/auth/login', { email, password: STRONG_PASSWORD }, '10.2.0.2');
      expectRateLimited(locked);
      const lockEvents = await t.database.db
        .selectFrom('audit_events')
        .select('type')
        .where('type', '=', 'login.locked')
        .execute();
      expect(lockEvents).toHaveLength(1);
      // A password reset works while locked, and lifts the lock.
      const newPassword = 'a brand new passphrase for the locked account';
      expect((await post(t, '/auth/forgot-password', { email }, '10.2.0.4')).statusCode).toBe(202);
      const token = await t.tokenFromLatestMail(email);
      const reset = await post(
        t,
        '/auth/reset-password',
        { token, password: newPassword },
        '10.2.0.5',
      );
      expect(reset.statusCode).toBe(204);
      expect(
        (await post(t, '/auth/login', { email, password: newPassword }, '10.2.0.3')).statusCode,
      ).toBe(200);
      // clear() is also there for code: lock another address and lift it directly.
      const other = uniqueEmail('lock2');
      for (let n = 0; n < 8; n++) {
        await post(t, '/auth/login', { email: other, password: WRONG }, '10.2.0.6');
        t.clock.advance(900);
      }
      expectRateLimited(
        await post(t, '/auth/login', { email: other, password: WRONG }, '10.2.0.6'),
      );
      await t.abuse.throttle.clear(other);
      expect(
        (await post(t, '/auth/login', { email: other, password: WRONG }, '10.2.0.6')).statusCode,
      ).toBe(401);
    });

    it('RATE_LIMITS=off (this app) keeps the throttle but not the per-IP limits, and said so at start', async () => {
      expect(t.logs()).toContain('RATE_LIMITS=off');
      for (let n = 0; n < 40; n++) {
        const res = await post(
          t,
          '/auth/resend-verification',
          { email: uniqueEmail('f') },
          '10.3.0.1',
        );
        expect(res.statusCode).toBe(202);
      }
    });
  });

  describe('client IP and TRUST_PROXY', () => {
    let untrusted: TestApp;
    let trusted: TestApp;
    let listed: TestApp;
    beforeAll(async () => {
      untrusted = await createTestApp(backend, ipLimits);
      trusted = await createTestApp(backend, { ...ipLimits, TRUST_PROXY: '1' });
      listed = await createTestApp(backend, { ...ipLimits, TRUST_PROXY: '127.0.0.1' });
    });
    afterAll(async () => {
      await untrusted.close();
      await trusted.close();
      await listed.close();
    });
    const body = () => ({ email: uniqueEmail('proxy') });
    const resend = (t: TestApp, remote: string, xff?: string) =>
      post(t, '/auth/resend-verification', body(), remote, xff ? { 'x-forwarded-for': xff } : {});

    it('ignores X-Forwarded-For when untrusted, and warns once', async () => {
      expect((await resend(untrusted, '127.0.0.1', '1.1.1.1')).statusCode).toBe(202);
      expect((await resend(untrusted, '127.0.0.1', '2.2.2.2')).statusCode).toBe(202);
      expectRateLimited(await resend(untrusted, '127.0.0.1', '3.3.3.3'));
      const warnings = untrusted.logs().match(/TRUST_PROXY is off/g) ?? [];
      expect(warnings).toHaveLength(1);
    });

    it('takes the client IP from X-Forwarded-For when trusted', async () => {
      for (const ip of ['1.1.1.1', '2.2.2.2', '3.3.3.3', '4.4.4.4']) {
        expect((await resend(trusted, '127.0.0.1', ip)).statusCode).toBe(202);
      }
      await resend(trusted, '127.0.0.1', '5.5.5.5');
      await resend(trusted, '127.0.0.1', '5.5.5.5');
      expectRateLimited(await resend(trusted, '127.0.0.1', '5.5.5.5'));
      expect(trusted.logs()).not.toContain('TRUST_PROXY is off');
    });

    it('trusts the header only from the listed proxies', async () => {
      expect((await resend(listed, '127.0.0.1', '6.6.6.1')).statusCode).toBe(202);
      expect((await resend(listed, '127.0.0.1', '6.6.6.2')).statusCode).toBe(202);
      expect((await resend(listed, '127.0.0.1', '6.6.6.3')).statusCode).toBe(202);
      // Not from the proxy: the header is a client's claim, and the socket address counts.
      await resend(listed, '192.0.2.77', '7.7.7.1');
      await resend(listed, '192.0.2.77', '7.7.7.2');
      expectRateLimited(await resend(listed, '192.0.2.77', '7.7.7.3'));
    });
  });
});
