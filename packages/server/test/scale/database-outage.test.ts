import { randomBytes, randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { createLatchkey, type Latchkey } from '../../src/app/latchkey.js';
import { isDatabaseUnavailable } from '../../src/store/database.js';
import type { MailMessage, MailTransport } from '../../src/mail/transport.js';
import { cookieFrom, STRONG_PASSWORD } from '../support/app.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/**
 * PostgreSQL stopped (connections refused) or frozen (SIGSTOP: connections open, no answer),
 * through a TCP proxy between the app and the test database. Runs when TEST_DATABASE_URL is set:
 * the embedded database is in-process and cannot be cut off.
 */
const adminUrl = process.env.TEST_DATABASE_URL;

// Short bounds so the test is quick; the defaults are 5 s and 3 s.
const STATEMENT_TIMEOUT_MS = 1500;
const POOL_TIMEOUT_MS = 1000;

class Mailbox implements MailTransport {
  readonly sent: MailMessage[] = [];
  async send(message: MailMessage) {
    this.sent.push(message);
  }
}

async function until(condition: () => Promise<boolean> | boolean, ms: number) {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

describe.skipIf(!adminUrl)('a PostgreSQL outage', () => {
  const dbName = `latchkey_outage_${randomBytes(5).toString('hex')}`;
  const mail = new Mailbox();
  let proxy: TcpProxy;
  let t: Latchkey;
  let logs = '';
  let cookie: string;
  let email: string;

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`create database ${dbName}`);
    await admin.end();
    const target = new URL(adminUrl as string);
    target.pathname = `/${dbName}`;
    proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    await proxy.start();
    const logStream = new PassThrough();
    logStream.on('data', (chunk) => {
      logs += chunk;
    });
    t = await createLatchkey(
      loadConfig({
        NODE_ENV: 'test',
        LOG_LEVEL: 'info',
        PUBLIC_URL: 'http://localhost:3000',
        DATABASE_URL: proxy.url(target.toString()),
        KEY_ENCRYPTION_SECRET: 'test-key-encryption-secret-0123456789abcdef',
        RATE_LIMITS: 'off',
        // Every /auth/me reaches the database (no answer from memory).
        SESSION_CACHE_TTL: '0',
        DATABASE_STATEMENT_TIMEOUT: `${STATEMENT_TIMEOUT_MS}ms`,
        DATABASE_POOL_TIMEOUT: `${POOL_TIMEOUT_MS}ms`,
      }),
      { mailTransport: mail, startMailWorker: false, startRetention: false, logStream },
    );
    email = `outage-${randomUUID().slice(0, 8)}@example.com`;
    await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email, password: STRONG_PASSWORD },
    });
    await t.worker.runOnce();
    const token = mail.sent.at(-1)?.text.match(/[?&]token=([A-Za-z0-9_-]{43})/)?.[1];
    await t.app.inject({
      method: 'POST',
      url: '/auth/verify-email',
      payload: { token, password: STRONG_PASSWORD },
    });
    const login = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: STRONG_PASSWORD },
    });
    expect(login.statusCode).toBe(200);
    cookie = cookieFrom(login.headers['set-cookie']);
  }, 30_000);

  afterAll(async () => {
    proxy?.restore();
    await t?.close();
    await proxy?.stop();
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
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
    await until(async () => (await me()).statusCode === 200, 15_000);
    expect((await login()).statusCode).toBe(200);
    await until(() => logs.includes('database answers again'), 5_000);
  }

  it('answers 503 with Retry-After while the database refuses connections, and logs the outage once', async () => {
    expect((await me()).statusCode).toBe(200);
    const before = logs.length;
    proxy.cut('refuse');
    for (let i = 0; i < 10; i++) {
      expectUnavailable(await me());
      expectUnavailable(await login());
    }
    const during = logs.slice(before);
    expect(count(during, 'database unavailable')).toBe(1);
    expect(during).not.toContain('unhandled error');
    expect(during).not.toContain('"stack"');

    proxy.restore();
    await backToService();
    expect(count(logs.slice(before), 'database answers again')).toBe(1);
  }, 30_000);

  it('answers 503 within its bounds while the database is frozen, then resumes', async () => {
    expect((await me()).statusCode).toBe(200);
    const before = logs.length;
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
    expect(count(logs.slice(before), 'database unavailable')).toBe(1);
    expect(logs.slice(before)).not.toContain('unhandled error');

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
