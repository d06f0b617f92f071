import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REFUSALS_AUDITED_PER_MINUTE as BOUND } from '../../src/core/refused-requests.js';
import { ACCOUNT_TEST_ENV } from '../support/account.js';
import { userWithRoles } from '../support/admin.js';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';

const UA = 'refusal-test/1.0';

describe.each(backends)('audited refusals (403) on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend, ACCOUNT_TEST_ENV);
  });
  afterAll(() => t.close());

  const refusals = async (where: { ip?: string; userId?: string }) => {
    let query = t.database.db
      .selectFrom('audit_events')
      .selectAll()
      .where('type', '=', 'request.forbidden');
    if (where.ip) query = query.where('ip', '=', where.ip);
    if (where.userId) query = query.where('user_id', '=', where.userId);
    return query.orderBy('id').execute();
  };

  it('records a missing and a wrong CSRF token, with the user, route, IP and user agent', async () => {
    const u = await userWithRoles(t, 'csrf', []);
    const ip = '10.1.0.1';
    for (const csrf of [undefined, 'not-the-token']) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/auth/logout',
        remoteAddress: ip,
        headers: {
          cookie: u.device.cookie,
          'user-agent': UA,
          ...(csrf ? { 'x-csrf-token': csrf } : {}),
        },
      });
      expect(res.statusCode).toBe(403);
      expect(res.json().code).toBe('csrf_failed');
    }
    const rows = await refusals({ ip });
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row).toMatchObject({
        user_id: u.id,
        actor_id: null,
        ip,
        user_agent: UA,
        data: { reason: 'csrf_failed', method: 'POST', route: '/auth/logout' },
      });
    }
    expect(JSON.stringify(rows)).not.toContain(u.device.cookie.split('=')[1]);
  });

  it('records a request from a foreign Origin', async () => {
    const ip = '10.1.0.2';
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      remoteAddress: ip,
      headers: { origin: 'https://evil.example', 'user-agent': UA },
      payload: { email: 'someone@example.com', password: STRONG_PASSWORD },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('origin_not_allowed');
    const rows = await refusals({ ip });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      user_id: null,
      user_agent: UA,
      data: {
        reason: 'origin_not_allowed',
        method: 'POST',
        route: '/auth/login',
        origin: 'https://evil.example',
      },
    });
    // The body (a password here) is never kept.
    expect(JSON.stringify(rows)).not.toContain(STRONG_PASSWORD);
  });

  it('records an admin route asked for without its permission', async () => {
    const plain = await userWithRoles(t, 'no-permission', []);
    const ip = '10.1.0.3';
    const res = await t.app.inject({
      method: 'GET',
      url: '/admin/users?q=secret-prefix',
      remoteAddress: ip,
      headers: { cookie: plain.device.cookie, 'user-agent': UA },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('forbidden');
    const rows = await refusals({ ip });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      user_id: plain.id,
      data: {
        reason: 'forbidden',
        method: 'GET',
        route: '/admin/users',
        permission: 'users:read',
      },
    });
    expect(JSON.stringify(rows)).not.toContain('secret-prefix');
  });

  it('keeps at most the bound of rows per IP in a minute, then records again', async () => {
    expect(BOUND).toBeLessThanOrEqual(10);
    const ip = '10.1.0.4';
    const flood = () =>
      t.app.inject({
        method: 'POST',
        url: '/auth/register',
        remoteAddress: ip,
        headers: { origin: 'https://evil.example' },
        payload: { email: 'flood@example.com', password: STRONG_PASSWORD },
      });
    for (let i = 0; i < 200; i++) expect((await flood()).statusCode).toBe(403);
    expect(await refusals({ ip })).toHaveLength(BOUND);
    t.clock.advance(61);
    await flood();
    expect(await refusals({ ip })).toHaveLength(BOUND + 1);
  });

  it('keeps at most the bound of rows per user in a minute, from however many IPs', async () => {
    const u = await userWithRoles(t, 'csrf-flood', []);
    for (let i = 0; i < 200; i++) {
      const res = await t.app.inject({
        method: 'DELETE',
        url: '/auth/sessions',
        remoteAddress: `10.2.${Math.floor(i / 250)}.${i % 250}`,
        headers: { cookie: u.device.cookie },
      });
      expect(res.statusCode).toBe(403);
    }
    expect(await refusals({ userId: u.id })).toHaveLength(BOUND);
  });
});
