import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/config/config.js';
import { setUserRoles } from '../../src/store/rbac.js';
import { login } from '../support/account.js';
import { STRONG_PASSWORD, type TestInstance } from '../support/app.js';
import { type Instances, startInstances } from '../support/instances.js';
import { redisFor, redisVariants } from '../support/redis.js';

/**
 * Admin actions across two instances on one PostgreSQL (and Redis when TEST_REDIS_URL is set):
 * a user disabled or given a role on one instance is treated so by the other at once, though
 * the other had the session cached.
 */
const adminUrl = process.env.TEST_DATABASE_URL;
describe.skipIf(!adminUrl).each(redisVariants)(
  'admin actions across instances on %s',
  (variant) => {
    const redis = redisFor(variant);
    let instances: Instances;
    let a: TestInstance;
    let b: TestInstance;

    beforeAll(async () => {
      instances = await startInstances(2, {
        dbPrefix: 'latchkey_admin',
        env: {
          LOG_LEVEL: 'silent',
          ...redis.env,
        } as Env,
      });
      [a, b] = instances.instances as [TestInstance, TestInstance];
    });

    afterAll(async () => {
      await instances?.close();
      await redis.cleanup();
    });

    async function signedIn(on: TestInstance, roles: string[]) {
      const email = `x-${randomUUID().slice(0, 8)}@example.com`;
      const user = await a.admin.createAdmin(
        { id: null, via: 'cli' },
        {
          email,
          password: STRONG_PASSWORD,
        },
      );
      await setUserRoles(a.database.db, user.id, roles, new Date());
      const { cookie, headers } = await login(on, email);
      return { id: user.id, cookie, headers };
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
  },
);

/** Polls for at most 200 ms (the notification's trip between instances). */
async function waitUntil(check: () => Promise<boolean>) {
  const started = performance.now();
  while (performance.now() - started < 200) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  expect(await check()).toBe(true);
}
