import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../../src/store/database.js';
import { login as signIn, verifiedUser } from '../support/account.js';
import { STRONG_PASSWORD, type TestInstance } from '../support/app.js';
import { type Instances, startInstances } from '../support/instances.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { until } from '../support/until.js';

/**
 * PostgreSQL stopped (connections refused) or frozen (SIGSTOP: connections open, no answer),
 * through a TCP proxy between the app and the test database. Runs when TEST_DATABASE_URL is set:
 * the embedded database is in-process and cannot be cut off.
 */
const adminUrl = process.env.TEST_DATABASE_URL;

// Short bounds so the test is quick; the defaults are 5 s and 3 s.
const STATEMENT_TIMEOUT_MS = 1500;
const POOL_TIMEOUT_MS = 1000;

const count = (text: string, needle: string) => text.split(needle).length - 1;

describe.skipIf(!adminUrl)('a PostgreSQL outage', () => {
  let instances: Instances;
  let proxy: TcpProxy;
  let t: TestInstance;
  let cookie: string;
  let email: string;

  beforeAll(async () => {
    instances = await startInstances(1, {
      dbPrefix: 'latchkey_outage',
      env: {
        // Every /auth/me reaches the database (no answer from memory).
        SESSION_CACHE_TTL: '0',
        DATABASE_STATEMENT_TIMEOUT: `${STATEMENT_TIMEOUT_MS}ms`,
        DATABASE_POOL_TIMEOUT: `${POOL_TIMEOUT_MS}ms`,
      },
      options: { startRetention: false },
      through: async (url) => {
        proxy = await TcpProxy.inFrontOf(url, 5432);
        return proxy.url(url);
      },
    });
    t = instances.instances[0] as TestInstance;
    ({ email } = await verifiedUser(t, 'outage'));
    ({ cookie } = await signIn(t, email));
  }, 30_000);

  afterAll(async () => {
    proxy?.restore();
    await instances?.close();
    await proxy?.stop();
  });

  const me = () => t.app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } });
  const login = () =>
    t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: STRONG_PASSWORD },
    });

  function expectUnavailable(res: Awaited<ReturnType<typeof me>>) {
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
    expect(res.json()).toMatchObject({ status: 503, code: 'service_unavailable' });
    expect(res.body).not.toMatch(/ECONNREFUSED|terminat|timeout|postgres/i);
  }

  async function backToService() {
    await until(async () => (await me()).statusCode === 200, 15_000, 50);
    expect((await login()).statusCode).toBe(200);
    await until(() => t.logs().includes('database answers again'), 5_000, 50);
  }

  it('answers 503 with Retry-After while the database refuses connections, and logs the outage once', async () => {
    expect((await me()).statusCode).toBe(200);
    const before = t.logs().length;
    proxy.cut('refuse');
    for (let i = 0; i < 10; i++) {
      expectUnavailable(await me());
      expectUnavailable(await login());
    }
    const during = t.logs().slice(before);
    expect(count(during, 'database unavailable')).toBe(1);
    expect(during).not.toContain('unhandled error');
    expect(during).not.toContain('"stack"');

    proxy.restore();
    await backToService();
    expect(count(t.logs().slice(before), 'database answers again')).toBe(1);
  }, 30_000);

  it('answers 503 within its bounds while the database is frozen, then resumes', async () => {
    expect((await me()).statusCode).toBe(200);
    const before = t.logs().length;
    proxy.cut('freeze');
    const started = performance.now();
    // More requests at once than the pool has connections: some wait for the pool, the others
    // for their statement.
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? login() : me())),
    );
    const elapsed = performance.now() - started;
    for (const res of answers) expectUnavailable(res);
    expect(elapsed).toBeLessThan(STATEMENT_TIMEOUT_MS + POOL_TIMEOUT_MS + 2000);
    expect(count(t.logs().slice(before), 'database unavailable')).toBe(1);
    expect(t.logs().slice(before)).not.toContain('unhandled error');

    proxy.restore();
    await backToService();
  }, 30_000);
});

describe.skipIf(!adminUrl)('isDatabaseUnavailable', () => {
  async function failure(run: () => Promise<unknown>): Promise<unknown> {
    try {
      await run();
    } catch (error) {
      return error;
    }
    throw new Error('expected a failure');
  }

  it('tells errors of a database that cannot answer now from errors of a query', async () => {
    const victim = new pg.Client({ connectionString: adminUrl });
    victim.on('error', () => {});
    await victim.connect();
    const killer = new pg.Client({ connectionString: adminUrl });
    await killer.connect();
    try {
      // Unavailable: the backend terminated (57P01), as in a server shutdown...
      const pid = (await victim.query('select pg_backend_pid() as pid')).rows[0].pid as number;
      const terminated = failure(() => victim.query('select pg_sleep(5)'));
      await until(
        async () =>
          (
            await killer.query(
              "select 1 from pg_stat_activity where pid = $1 and query like 'select pg_sleep%'",
              [pid],
            )
          ).rowCount === 1,
        5000,
        50,
      );
      await killer.query('select pg_terminate_backend($1)', [pid]);
      expect(isDatabaseUnavailable(await terminated)).toBe(true);
      // ...a statement over its timeout (57014), a refused connection.
      await killer.query("set statement_timeout = '50ms'");
      expect(isDatabaseUnavailable(await failure(() => killer.query('select pg_sleep(1)')))).toBe(
        true,
      );
      await killer.query('reset statement_timeout');
      const proxy = new TcpProxy({ host: '127.0.0.1', port: 1 });
      await proxy.start();
      proxy.cut('refuse');
      const refused = new pg.Client({ connectionString: proxy.url(adminUrl as string) });
      expect(isDatabaseUnavailable(await failure(() => refused.connect()))).toBe(true);
      await proxy.stop();

      // Not unavailable: bad SQL, a constraint, a plain bug.
      expect(isDatabaseUnavailable(await failure(() => killer.query('select from nowhere')))).toBe(
        false,
      );
      expect(isDatabaseUnavailable(await failure(() => killer.query('select 1/0')))).toBe(false);
      expect(isDatabaseUnavailable(new TypeError('x is undefined'))).toBe(false);
    } finally {
      await killer.end();
      await victim.end().catch(() => {});
    }
  });
});
