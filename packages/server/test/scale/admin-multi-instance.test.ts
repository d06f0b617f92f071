import { randomBytes, randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { createLatchkey, type Latchkey } from '../../src/app/latchkey.js';
import { setUserRoles } from '../../src/store/rbac.js';
import { cookieFrom, STRONG_PASSWORD } from '../support/app.js';
import { cleanupPrefix, redisUrl, uniquePrefix } from '../support/redis.js';

/**
 * Admin actions across two instances on one PostgreSQL (and Redis when TEST_REDIS_URL is set):
 * a user disabled or given a role on one instance is treated so by the other at once, though
 * the other had the session cached.
 */
const adminUrl = process.env.TEST_DATABASE_URL;
const variants = ['PostgreSQL only', ...(redisUrl ? ['PostgreSQL + Redis'] : [])];

describe.skipIf(!adminUrl).each(variants)('admin actions across instances on %s', (variant) => {
  const withRedis = variant.includes('Redis');
  const dbName = `latchkey_admin_${randomBytes(5).toString('hex')}`;
  const prefix = uniquePrefix();
  let a: Latchkey;
  let b: Latchkey;

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`create database ${dbName}`);
    await admin.end();
    const url = new URL(adminUrl as string);
    url.pathname = `/${dbName}`;
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: url.toString(),
      KEY_ENCRYPTION_SECRET: 'test-key-encryption-secret-0123456789abcdef',
      RATE_LIMITS: 'off',
      ...(withRedis ? { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix } : {}),
    });
    const start = () =>
      createLatchkey(config, { startMailWorker: false, logStream: new PassThrough() });
    a = await start();
    b = await start();
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
    if (withRedis && redisUrl) await cleanupPrefix(redisUrl, prefix);
  });

  async function signedIn(on: Latchkey, roles: string[]) {
    const email = `x-${randomUUID().slice(0, 8)}@example.com`;
    const user = await a.admin.createAdmin(
      { id: null, via: 'cli' },
      {
        email,
        password: STRONG_PASSWORD,
      },
    );
    await setUserRoles(a.database.db, user.id, roles, new Date());
    const res = await on.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: STRONG_PASSWORD },
    });
    expect(res.statusCode).toBe(200);
    const cookie = cookieFrom(res.headers['set-cookie']);
    const csrf = res.json().csrfToken as string;
    return { id: user.id, cookie, headers: { cookie, 'x-csrf-token': csrf } };
  }

  it('a user disabled on A is refused by B at once; a role given on A counts on B at once', async () => {
    const root = await signedIn(a, ['admin']);
    const user = await signedIn(b, []);
    const me = () =>
      b.app.inject({ method: 'GET', url: '/auth/me', headers: { cookie: user.cookie } });
    const adminList = () =>
      b.app.inject({ method: 'GET', url: '/admin/users', headers: { cookie: user.cookie } });
    expect((await me()).statusCode).toBe(200);
    expect((await me()).statusCode).toBe(200); // cached on B
    expect((await adminList()).statusCode).toBe(403);

    const promote = await a.app.inject({
      method: 'PATCH',
      url: `/admin/users/${user.id}`,
      headers: root.headers,
      payload: { roles: ['admin'] },
    });
    expect(promote.statusCode).toBe(200);
    await waitUntil(async () => (await adminList()).statusCode === 200);

    const disable = await a.app.inject({
      method: 'PATCH',
      url: `/admin/users/${user.id}`,
      headers: root.headers,
      payload: { disabled: true },
    });
    expect(disable.statusCode).toBe(200);
    await waitUntil(async () => (await me()).statusCode === 401);
  });
});

/** Polls for at most 200 ms (the notification's trip between instances). */
async function waitUntil(check: () => Promise<boolean>) {
  const started = performance.now();
  while (performance.now() - started < 200) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  expect(await check()).toBe(true);
}
