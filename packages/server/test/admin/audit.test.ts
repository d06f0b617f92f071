import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCOUNT_TEST_ENV,
  auditOf,
  login,
  OTHER_PASSWORD,
  THIRD_PASSWORD,
  uniqueEmail,
  verifiedUser,
} from '../support/account.js';
import { userWithRoles } from '../support/admin.js';
import { cookieFrom, createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';

const UA = 'audit-test-agent/1.0';

describe.each(backends)('the audit trail on %s', (backend) => {
  let t: TestApp;
  let admin: Awaited<ReturnType<typeof userWithRoles>>;
  beforeAll(async () => {
    t = await createTestApp(backend, ACCOUNT_TEST_ENV);
    admin = await userWithRoles(t, 'auditor', ['admin']);
  });
  afterAll(() => t.close());

  const post = (url: string, payload?: object, headers: Record<string, string> = {}) =>
    t.app.inject({
      method: 'POST',
      url,
      headers: { 'user-agent': UA, ...headers },
      ...(payload ? { payload } : {}),
    });

  it('records an event for every flow, with IP and user agent, never a secret', async () => {
    const email = uniqueEmail('flows');
    await post('/auth/register', { email, password: STRONG_PASSWORD });
    await post('/auth/register', { email, password: STRONG_PASSWORD }); // existing email
    await post('/auth/resend-verification', { email });
    const verifyToken = await t.tokenFromLatestMail(email);
    const id = (
      await post('/auth/verify-email', { token: verifyToken, password: STRONG_PASSWORD })
    ).json().user.id as string;

    const device = await login(t, email, STRONG_PASSWORD, UA);
    const other = await login(t, email, STRONG_PASSWORD, UA);
    for (let i = 0; i < 5; i++)
      await post('/auth/login', { email, password: 'wrong wrong wrong wrong' });
    t.clock.advance(3600); // past the throttle delay
    await login(t, email, STRONG_PASSWORD, UA); // clears the throttle

    const sessions = (
      await t.app.inject({
        method: 'GET',
        url: '/auth/sessions',
        headers: { cookie: device.cookie },
      })
    ).json().sessions as { id: string; current: boolean }[];
    const otherId = sessions.find((s) => !s.current)?.id as string;
    await t.app.inject({
      method: 'DELETE',
      url: `/auth/sessions/${otherId}`,
      headers: { ...device.headers, 'user-agent': UA },
    });
    await t.app.inject({
      method: 'DELETE',
      url: '/auth/sessions',
      headers: { ...device.headers, 'user-agent': UA },
    });
    const changed = await post(
      '/auth/change-password',
      { currentPassword: STRONG_PASSWORD, newPassword: OTHER_PASSWORD },
      device.headers,
    );
    // The device continues under a new cookie, with the CSRF token of GET /auth/me.
    const cookie = cookieFrom(changed.headers['set-cookie']);
    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } });
    const rotated = { cookie, 'x-csrf-token': me.json().csrfToken as string };
    const newEmail = uniqueEmail('flows-new');
    await post('/auth/change-email', { newEmail, password: OTHER_PASSWORD }, rotated);
    await post('/auth/verify-email', { token: await t.tokenFromLatestMail(newEmail) });
    await post('/auth/logout', undefined, rotated);
    await post('/auth/forgot-password', { email: newEmail });
    await post('/auth/reset-password', {
      token: await t.tokenFromLatestMail(newEmail),
      password: THIRD_PASSWORD,
    });

    const pair = (await post('/auth/token', { email: newEmail, password: THIRD_PASSWORD })).json();
    await post('/auth/refresh', { refreshToken: pair.refreshToken });
    t.clock.advance(60);
    await post('/auth/refresh', { refreshToken: pair.refreshToken }); // reuse
    void other;

    const patch = (body: object) =>
      t.app.inject({
        method: 'PATCH',
        url: `/admin/users/${id}`,
        headers: { ...admin.device.headers, 'user-agent': UA },
        payload: body,
      });
    await patch({ roles: ['admin'] });
    await patch({ roles: [], name: 'Renamed' });
    await patch({ disabled: true });
    await patch({ disabled: false });
    await post(`/admin/users/${id}/revoke-sessions`, undefined, admin.device.headers);
    await post(`/admin/users/${id}/reset-password`, undefined, admin.device.headers);
    await t.deliverMail();
    await t.app.inject({
      method: 'DELETE',
      url: `/admin/users/${id}`,
      headers: admin.device.headers,
    });

    const { rows, types, text } = await auditOf(t, id);
    expect(new Set(types)).toEqual(
      new Set([
        'register',
        'register.existing_email',
        'verification.resent',
        'email.verified',
        'login.succeeded',
        'login.failed',
        'login.throttled',
        'session.revoked',
        'sessions.revoked_others',
        'password.changed',
        'session.rotated',
        'email_change.requested',
        'email.changed',
        'logout',
        'password_reset.requested',
        'password.reset',
        'refresh_token_reuse',
        'user.roles_changed',
        'user.renamed',
        'user.disabled',
        'user.enabled',
        'admin.sessions_revoked',
        'admin.password_reset',
        'user.deleted',
      ]),
    );
    for (const row of rows) {
      expect(row.ip, row.type).toBe('127.0.0.1');
      if (!row.type.startsWith('admin.')) expect(row.user_agent, row.type).not.toBeNull();
      const byAdmin = row.type.startsWith('user.') || row.type.startsWith('admin.');
      expect(row.actor_id, row.type).toBe(byAdmin ? admin.id : null);
    }
    for (const secret of [
      STRONG_PASSWORD,
      OTHER_PASSWORD,
      THIRD_PASSWORD,
      pair.refreshToken,
      verifyToken,
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(rows.find((r) => r.type === 'user.roles_changed')?.data).toMatchObject({
      from: [],
      to: ['admin'],
    });
  });

  it('serves the trail to audit:read with filters and cursor pagination', async () => {
    const { email, id } = await verifiedUser(t, 'trail');
    for (let i = 0; i < 3; i++) await login(t, email);
    const get = (query: string) =>
      t.app.inject({
        method: 'GET',
        url: `/admin/audit-events?${query}`,
        headers: { cookie: admin.device.cookie },
      });

    const all = (await get(`userId=${id}`)).json().events as { type: string; id: string }[];
    expect(all.map((e) => e.type)).toEqual([
      'login.succeeded',
      'login.succeeded',
      'login.succeeded',
      'email.verified',
      'register',
    ]);
    const logins = await get(`userId=${id}&type=login.succeeded,register&limit=2`);
    expect(logins.json().events.map((e: { type: string }) => e.type)).toEqual([
      'login.succeeded',
      'login.succeeded',
    ]);
    const next = await get(
      `userId=${id}&type=login.succeeded,register&limit=2&cursor=${logins.json().nextCursor}`,
    );
    expect(next.json().events.map((e: { type: string }) => e.type)).toEqual([
      'login.succeeded',
      'register',
    ]);
    expect(next.json().nextCursor).toBeNull();

    const future = new Date(t.clock.now().getTime() + 60_000).toISOString();
    expect((await get(`userId=${id}&from=${future}`)).json().events).toEqual([]);
    expect((await get(`userId=${id}&to=${future}`)).json().events).toHaveLength(5);
    expect((await get('userId=nope')).statusCode).toBe(400);
    for (const bad of ['cursor=garbage', 'from=yesterday', 'limit=0', 'limit=100000']) {
      const res = await get(bad);
      expect(res.statusCode, bad).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    const event = (await get(`userId=${id}&limit=1`)).json().events[0];
    expect(event).toEqual({
      id: expect.any(String),
      type: 'login.succeeded',
      userId: id,
      actorId: null,
      ip: '127.0.0.1',
      userAgent: 'vitest',
      data: { sessionId: expect.any(String) },
      createdAt: expect.any(String),
      userEmail: email,
      actorEmail: null,
    });
  });

  it('names the user and the acting admin by their current email, not only by id', async () => {
    const { email, id } = await verifiedUser(t, 'named');
    const revoke = await t.app.inject({
      method: 'POST',
      url: `/admin/users/${id}/revoke-sessions`,
      headers: admin.device.headers,
    });
    expect(revoke.statusCode).toBe(204);
    const res = await t.app.inject({
      method: 'GET',
      url: `/admin/audit-events?userId=${id}&type=admin.sessions_revoked`,
      headers: { cookie: admin.device.cookie },
    });
    expect(res.json().events[0]).toMatchObject({
      userId: id,
      userEmail: email,
      actorId: admin.id,
      actorEmail: admin.email,
    });
  });

  it('shows users their own recent activity at /auth/activity', async () => {
    const { email, id } = await verifiedUser(t, 'activity');
    const device = await login(t, email);
    await post('/auth/login', { email, password: 'not it, not it at all' });
    await t.app.inject({
      method: 'POST',
      url: `/admin/users/${id}/revoke-sessions`,
      headers: admin.device.headers,
    });
    const again = await login(t, email);
    const res = await t.app.inject({
      method: 'GET',
      url: '/auth/activity?limit=3',
      headers: { cookie: again.cookie },
    });
    expect(res.statusCode).toBe(200);
    const { events, nextCursor } = res.json() as {
      events: { type: string; byAdmin: boolean; device: string }[];
      nextCursor: string | null;
    };
    expect(events.map((e) => [e.type, e.byAdmin])).toEqual([
      ['login.succeeded', false],
      ['admin.sessions_revoked', true],
      ['login.failed', false],
    ]);
    expect(JSON.stringify(events)).not.toContain(admin.id);
    expect(nextCursor).not.toBeNull();
    expect((await t.app.inject({ method: 'GET', url: '/auth/activity' })).statusCode).toBe(401);
    void device;
  });

  it('purges audit events and finished mail past their retention', async () => {
    const fresh = await createTestApp(backend, {
      ...ACCOUNT_TEST_ENV,
      AUDIT_RETENTION: '30d',
      MAIL_RETENTION: '2d',
    });
    try {
      const { email } = await verifiedUser(fresh, 'retention');
      await fresh.app.inject({ method: 'POST', url: '/auth/forgot-password', payload: { email } });
      await fresh.account.settled(); // one pending mail
      const before = await fresh.database.db.selectFrom('audit_events').select('id').execute();
      expect(before.length).toBeGreaterThan(0);

      fresh.clock.advance(3 * 86400);
      expect(await fresh.retention.runOnce()).toEqual({
        auditEvents: 0,
        mails: 1,
        webhookEvents: 0,
        sessions: 0,
        refreshTokens: 0,
      }); // the sent one
      fresh.clock.advance(30 * 86400);
      await login(fresh, email); // a recent event stays
      const purged = await fresh.retention.runOnce();
      expect(purged.auditEvents).toBe(before.length);
      const left = await fresh.database.db.selectFrom('audit_events').select('type').execute();
      expect(left.map((r) => r.type)).toEqual(['login.succeeded']);
      const mail = await fresh.database.db.selectFrom('mail_outbox').select('status').execute();
      expect(mail.map((m) => m.status)).toEqual(['pending']);
    } finally {
      await fresh.close();
    }
  });
});
