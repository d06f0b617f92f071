import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResilientCounterStore } from '../../src/store/counters.js';
import { verifiedUser } from '../support/account.js';
import { cookieFrom, createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { cleanupPrefix, redisUrl, uniquePrefix } from '../support/redis.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { until } from '../support/until.js';

describe.skipIf(!redisUrl)('a Redis outage', () => {
  const prefix = uniquePrefix();
  let proxy: TcpProxy;
  let t: TestApp;
  let email: string;
  let cookie: string;

  beforeAll(async () => {
    proxy = await TcpProxy.inFrontOf(redisUrl as string, 6379);
    t = await createTestApp('pglite', {
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
      REDIS_KEY_PREFIX: prefix,
      REDIS_OUTAGE_GRACE: '10s',
      RATE_LIMITS: 'on',
      RATE_LIMIT_SIGNIN_IP: '1000/1m',
      RATE_LIMIT_SIGNIN_ACCOUNT: '1000/1m',
      RATE_LIMIT_REGISTER_IP: '1000/1m',
      RATE_LIMIT_VERIFY_IP: '1000/1m',
    });
    ({ email } = await verifiedUser(t, 'outage'));
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.stop();
    if (redisUrl) await cleanupPrefix(redisUrl, prefix);
  });

  const login = () =>
    t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: STRONG_PASSWORD },
    });
  const me = () => t.app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } });

  it('works normally through Redis first', async () => {
    await until(() => t.abuse.sessionCache.active, 3000);
    const res = await login();
    expect(res.statusCode).toBe(200);
    cookie = cookieFrom(res.headers['set-cookie']);
    expect((await me()).statusCode).toBe(200);
    expect((await me()).statusCode).toBe(200);
    expect(t.abuse.sessionCache.stats.hits).toBeGreaterThan(0);
    expect((await t.app.inject({ method: 'GET', url: '/readyz' })).json().checks).toMatchObject({
      redis: 'ok',
    });
  });

  for (const mode of ['refuse', 'hang'] as const) {
    it(`keeps serving while Redis is down (${mode}): sessions from PostgreSQL, sign-in within the grace, refused after it`, async () => {
      proxy.cut(mode);
      await until(() => !t.abuse.sessionCache.active, 3000);

      // Sessions validate from the database, promptly: the cache is bypassed.
      const started = performance.now();
      expect((await me()).statusCode).toBe(200);
      expect(performance.now() - started).toBeLessThan(1000);

      // Within the grace, sign-in uses this instance's own counters.
      const within = await login();
      expect(within.statusCode).toBe(200);
      const second = cookieFrom(within.headers['set-cookie']);
      // A revocation still works (its Redis publish fails and is logged).
      const logout = await t.app.inject({
        method: 'POST',
        url: '/auth/logout',
        headers: { cookie: second, 'x-csrf-token': within.json().csrfToken },
      });
      expect(logout.statusCode).toBe(204);
      expect(
        (await t.app.inject({ method: 'GET', url: '/auth/me', headers: { cookie: second } }))
          .statusCode,
      ).toBe(401);

      // Past the grace, sign-in fails closed; everything else keeps working.
      t.clock.advance(11);
      const refused = await login();
      expect(refused.statusCode).toBe(503);
      expect(refused.json().code).toBe('rate_limiter_unavailable');
      expect(refused.headers['retry-after']).toBeDefined();
      expect((await me()).statusCode).toBe(200);
      const resend = await t.app.inject({
        method: 'POST',
        url: '/auth/resend-verification',
        payload: { email },
      });
      expect(resend.statusCode).toBe(202);
      expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);

      // Redis comes back: the cache and shared limits return by themselves.
      proxy.restore();
      await until(() => t.abuse.sessionCache.active, 8000);
      // The command connection reconnects on its own schedule (the cache's subscriber may be
      // first): sign-in is back once it is.
      let back = await login();
      const deadline = Date.now() + 8000;
      while (back.statusCode === 503 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        back = await login();
      }
      expect(back.statusCode).toBe(200);
      expect((await me()).statusCode).toBe(200);
      expect(t.logs()).toContain('rate-limit store unreachable');
      expect(t.logs()).toContain('session cache is bypassed');
    }, 30_000);
  }

  it('fails fast while Redis is frozen: one command timeout per outage, not one per call', async () => {
    const degraded = () => (t.abuse.counters as ResilientCounterStore).degraded;
    const timed = async () => {
      const started = performance.now();
      const res = await login();
      return { status: res.statusCode, ms: performance.now() - started };
    };
    // A login through a healthy Redis: the hashing time of this machine right now.
    await until(() => !degraded(), 8000);
    const healthy = await timed();
    expect(healthy.status).toBe(200);

    proxy.cut('freeze');
    // Each login makes several Redis calls; only the first may wait for the 1 s command
    // timeout, the others go to this instance's counters at once.
    const first = await timed();
    expect(first.status).toBe(200);
    expect(first.ms).toBeLessThan(healthy.ms + 1500);
    const second = await timed();
    expect(second.status).toBe(200);
    expect(second.ms).toBeLessThan(healthy.ms + 500);
    expect(degraded()).toBe(true);

    // Redis answers again: a probe notices, and shared limits apply again without a request
    // having to pay for the check.
    proxy.restore();
    await until(() => !degraded(), 8000);
    expect((await timed()).status).toBe(200);
    expect(t.logs()).toContain('rate-limit store is back');
  }, 30_000);
});

describe('a Redis that is not there at start', () => {
  it('starts, serves sessions and sign-in within the grace, reports not ready, and closes', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));

    const started = performance.now();
    const t = await createTestApp('pglite', {
      REDIS_URL: `redis://127.0.0.1:${port}`,
      RATE_LIMITS: 'on',
    });
    try {
      expect(performance.now() - started).toBeLessThan(10_000);
      expect(t.abuse.sessionCache.active).toBe(false);
      const { email } = await verifiedUser(t, 'nored');
      const login = await t.app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email, password: STRONG_PASSWORD },
      });
      expect(login.statusCode).toBe(200);
      const cookie = cookieFrom(login.headers['set-cookie']);
      expect(
        (await t.app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } })).statusCode,
      ).toBe(200);
      expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
      expect(t.logs()).toContain('Redis is unreachable at start');
    } finally {
      await t.close();
    }
  });
});
