import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCOUNT_TEST_ENV,
  auditOf,
  type Device,
  login,
  loginStatus,
  meStatus,
  verifiedUser,
} from '../support/account.js';
import Fastify from 'fastify';
import { requirePermissions } from '../../src/http/plugins/permissions.js';
import { userWithRoles } from '../support/admin.js';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';

const ZERO = '00000000-0000-4000-8000-000000000000';

describe('deny by default', () => {
  it('refuses to start when an admin route declares no permission', async () => {
    const app = Fastify();
    let thrown: unknown;
    await app.register(async (scope) => {
      requirePermissions(
        scope,
        { permissionsOf: async () => new Set() },
        { enrollmentRequired: async () => false },
      );
      try {
        scope.get('/admin/forgotten', async () => 'open');
      } catch (error) {
        thrown = error;
      }
    });
    await app.ready();
    expect(String(thrown)).toMatch(/GET \/admin\/forgotten declares no permission/);
    expect((await app.inject({ method: 'GET', url: '/admin/forgotten' })).statusCode).toBe(404);
    await app.close();
  });
});

describe.each(backends)('the admin API on %s', (backend) => {
  let t: TestApp;
  let admin: Awaited<ReturnType<typeof userWithRoles>>;
  beforeAll(async () => {
    t = await createTestApp(backend, ACCOUNT_TEST_ENV);
    admin = await userWithRoles(t, 'admin', ['admin']);
  });
  afterAll(() => t.close());

  const call = (
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    device?: Device,
    payload?: object,
  ) =>
    t.app.inject({
      method,
      url,
      headers: device ? device.headers : {},
      ...(payload ? { payload } : {}),
    });

  it('checks a permission on every admin route: 401 anonymous, 403 plain user, admin allowed', async () => {
    const plain = await userWithRoles(t, 'plain', []);
    const target = await verifiedUser(t, 'target');
    const routes: [Parameters<typeof call>[0], string, object | undefined, number][] = [
      ['GET', '/admin/users', undefined, 200],
      ['GET', `/admin/users/${target.id}`, undefined, 200],
      ['PATCH', `/admin/users/${target.id}`, { name: 'Target' }, 200],
      ['POST', `/admin/users/${target.id}/revoke-sessions`, undefined, 204],
      ['POST', `/admin/users/${target.id}/reset-password`, undefined, 202],
      ['GET', '/admin/roles', undefined, 200],
      ['POST', '/admin/roles', { name: 'support-a', permissions: ['users:read'] }, 201],
      ['GET', '/admin/audit-events', undefined, 200],
      ['DELETE', `/admin/users/${target.id}`, undefined, 204],
    ];
    for (const [method, url, body, ok] of routes) {
      expect((await call(method, url, undefined, body)).statusCode, `${method} ${url}`).toBe(401);
      const forbidden = await call(method, url, plain.device, body);
      expect(forbidden.statusCode, `${method} ${url}`).toBe(403);
      expect(forbidden.json().code).toBe('forbidden');
      expect((await call(method, url, admin.device, body)).statusCode, `${method} ${url}`).toBe(ok);
    }
  });

  it('documents the admin API in the OpenAPI document; HEAD is guarded too', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/admin/users',
        '/admin/users/{id}',
        '/admin/users/{id}/revoke-sessions',
        '/admin/users/{id}/reset-password',
        '/admin/roles',
        '/admin/audit-events',
        '/auth/activity',
      ]),
    );
    expect((await t.app.inject({ method: 'HEAD', url: '/admin/users' })).statusCode).toBe(401);
  });

  it('needs the CSRF token with the cookie, and takes a bearer token instead', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/admin/roles',
      headers: { cookie: admin.device.cookie },
      payload: { name: 'nocsrf', permissions: [] },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('csrf_failed');
    const pair = await t.app.inject({
      method: 'POST',
      url: '/auth/token',
      payload: { email: admin.email, password: STRONG_PASSWORD },
    });
    const bearer = await t.app.inject({
      method: 'GET',
      url: '/admin/users?limit=1',
      headers: { authorization: `Bearer ${pair.json().accessToken}` },
    });
    expect(bearer.statusCode).toBe(200);
  });

  it('grants a custom role exactly its permissions', async () => {
    const created = await call('POST', '/admin/roles', admin.device, {
      name: 'support',
      description: 'Help desk',
      permissions: ['users:read', 'sessions:revoke'],
    });
    expect(created.statusCode).toBe(201);
    expect(created.json().role).toMatchObject({ name: 'support', builtIn: false });
    expect(
      (await call('POST', '/admin/roles', admin.device, { name: 'support', permissions: [] }))
        .statusCode,
    ).toBe(409);
    const bad = await call('POST', '/admin/roles', admin.device, {
      name: 'x',
      permissions: ['root'],
    });
    expect(bad.json().code).toBe('unknown_permission');

    const agent = await userWithRoles(t, 'agent', ['support']);
    const victim = await verifiedUser(t, 'victim');
    expect((await call('GET', `/admin/users/${victim.id}`, agent.device)).statusCode).toBe(200);
    expect(
      (await call('POST', `/admin/users/${victim.id}/revoke-sessions`, agent.device)).statusCode,
    ).toBe(204);
    expect(
      (await call('PATCH', `/admin/users/${victim.id}`, agent.device, { disabled: true }))
        .statusCode,
    ).toBe(403);
    expect((await call('GET', '/admin/audit-events', agent.device)).statusCode).toBe(403);

    const roles = await call('GET', '/admin/roles', admin.device);
    const list = roles.json().roles as { name: string; permissions: string[] }[];
    expect(list.find((r) => r.name === 'admin')?.permissions).toEqual([
      'audit:read',
      'roles:write',
      'sessions:revoke',
      'users:read',
      'users:write',
      'webhooks:manage',
    ]);
    expect(list.find((r) => r.name === 'support')?.permissions).toEqual([
      'sessions:revoke',
      'users:read',
    ]);
    expect(roles.json().permissions).toHaveLength(6);
  });

  it('needs roles:write to change roles, and refuses unknown roles', async () => {
    await call('POST', '/admin/roles', admin.device, {
      name: 'editor',
      permissions: ['users:write'],
    });
    const editor = await userWithRoles(t, 'editor', ['editor']);
    const other = await verifiedUser(t, 'other');
    const res = await call('PATCH', `/admin/users/${other.id}`, editor.device, {
      roles: ['admin'],
    });
    expect(res.statusCode).toBe(403);
    const unknown = await call('PATCH', `/admin/users/${other.id}`, admin.device, {
      roles: ['nope'],
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().code).toBe('unknown_role');
  });

  it('shows a new role on the next request, in /auth/me and in access tokens', async () => {
    const u = await userWithRoles(t, 'promoted', []);
    expect((await call('GET', '/admin/users', u.device)).statusCode).toBe(403);
    const res = await call('PATCH', `/admin/users/${u.id}`, admin.device, { roles: ['admin'] });
    expect(res.json().user.roles).toEqual(['admin']);
    expect((await call('GET', '/admin/users', u.device)).statusCode).toBe(200);
    const me = await t.app.inject({
      method: 'GET',
      url: '/auth/me',
      headers: { cookie: u.device.cookie },
    });
    expect(me.json().user.roles).toEqual(['admin']);
    const pair = await t.app.inject({
      method: 'POST',
      url: '/auth/token',
      payload: { email: u.email, password: STRONG_PASSWORD },
    });
    const payload = JSON.parse(
      Buffer.from(pair.json().accessToken.split('.')[1], 'base64url').toString(),
    );
    expect(payload.roles).toEqual(['admin']);
    await call('PATCH', `/admin/users/${u.id}`, admin.device, { roles: [] });
    expect((await call('GET', '/admin/users', u.device)).statusCode).toBe(403);
  });

  it('disabling kills live sessions and refresh tokens at once; login answers as a wrong password', async () => {
    const { email, id } = await verifiedUser(t, 'disable');
    const browser = await login(t, email);
    const pair = (
      await t.app.inject({
        method: 'POST',
        url: '/auth/token',
        payload: { email, password: STRONG_PASSWORD },
      })
    ).json() as { accessToken: string; refreshToken: string };
    expect(await meStatus(t, browser)).toBe(200); // cached now

    const res = await call('PATCH', `/admin/users/${id}`, admin.device, { disabled: true });
    expect(res.statusCode).toBe(200);
    expect(res.json().user).toMatchObject({ disabled: true, disabledAt: expect.any(String) });

    expect(await meStatus(t, browser)).toBe(401);
    const bearer = await t.app.inject({
      method: 'GET',
      url: '/auth/me',
      headers: { authorization: `Bearer ${pair.accessToken}` },
    });
    expect(bearer.statusCode).toBe(401);
    const refresh = await t.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refreshToken: pair.refreshToken },
    });
    expect(refresh.statusCode).toBe(401);
    const live = await t.database.db
      .selectFrom('refresh_tokens')
      .select('id')
      .where('user_id', '=', id)
      .where('revoked_at', 'is', null)
      .execute();
    expect(live).toEqual([]);

    const wrong = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: 'not the password at all, clearly' },
    });
    const disabled = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: STRONG_PASSWORD },
    });
    expect(disabled.statusCode).toBe(401);
    expect(disabled.json().code).toBe(wrong.json().code);
    expect(disabled.json().detail).toBe(wrong.json().detail);

    const enabled = await call('PATCH', `/admin/users/${id}`, admin.device, { disabled: false });
    expect(enabled.json().user.disabled).toBe(false);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
    const { types, rows } = await auditOf(t, id);
    expect(types).toEqual(expect.arrayContaining(['user.disabled', 'user.enabled']));
    expect(rows.find((r) => r.type === 'user.disabled')?.actor_id).toBe(admin.id);
  });

  it('never leaves the service without an enabled admin', async () => {
    const fresh = await createTestApp(backend, ACCOUNT_TEST_ENV);
    try {
      const only = await userWithRoles(fresh, 'only', ['admin']);
      const patch = (device: Device, id: string, body: object) =>
        fresh.app.inject({
          method: 'PATCH',
          url: `/admin/users/${id}`,
          headers: device.headers,
          payload: body,
        });
      const remove = (device: Device, id: string) =>
        fresh.app.inject({ method: 'DELETE', url: `/admin/users/${id}`, headers: device.headers });
      // Your own roles are another administrator's to change, even for the last admin.
      const demoteSelf = await patch(only.device, only.id, { roles: [] });
      expect(demoteSelf.statusCode).toBe(403);
      expect(demoteSelf.json().code).toBe('cannot_change_own_roles');
      const self = await patch(only.device, only.id, { disabled: true });
      expect(self.json().code).toBe('cannot_change_self');
      expect((await remove(only.device, only.id)).json().code).toBe('cannot_change_self');

      // Every permission without the admin role reaches the last admin, but cannot remove them.
      await fresh.app.inject({
        method: 'POST',
        url: '/admin/roles',
        headers: only.device.headers,
        payload: {
          name: 'operator',
          permissions: [
            'users:read',
            'users:write',
            'sessions:revoke',
            'audit:read',
            'roles:write',
            'webhooks:manage',
          ],
        },
      });
      const operator = await userWithRoles(fresh, 'operator', ['operator']);
      for (const body of [{ roles: [] }, { disabled: true }]) {
        const res = await patch(operator.device, only.id, body);
        expect(res.statusCode, JSON.stringify(body)).toBe(409);
        expect(res.json().code).toBe('last_admin');
      }
      expect((await remove(operator.device, only.id)).json().code).toBe('last_admin');

      // With a second admin, the first can be demoted; the last one still cannot.
      const second = await userWithRoles(fresh, 'second', ['admin']);
      expect((await patch(second.device, only.id, { roles: [] })).statusCode).toBe(200);
      expect((await patch(operator.device, second.id, { roles: [] })).json().code).toBe(
        'last_admin',
      );
      // Two admins demoting each other at once: one wins, one admin stays.
      const third = await userWithRoles(fresh, 'third', ['admin']);
      const results = await Promise.all([
        patch(second.device, third.id, { roles: [] }),
        patch(third.device, second.id, { roles: [] }),
      ]);
      expect(results.filter((r) => r.statusCode === 200)).toHaveLength(1);
      const admins = await fresh.admin.listUsers({ role: 'admin', limit: 10 });
      expect(admins.users).toHaveLength(1);
    } finally {
      await fresh.close();
    }
  });

  it('lists users with search, filters and stable cursor pagination under inserts', async () => {
    const prefix = `page-${Date.now().toString(36)}`;
    const made: string[] = [];
    for (let i = 0; i < 5; i++) {
      const email = `${prefix}-${i}@example.com`;
      await t.app.inject({
        method: 'POST',
        url: '/auth/register',
        payload: { email, password: STRONG_PASSWORD },
      });
      made.push(email);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/admin/users?q=${prefix.toUpperCase()}&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await call('GET', url, admin.device);
      expect(res.statusCode).toBe(200);
      const body = res.json() as { users: { email: string }[]; nextCursor: string | null };
      seen.push(...body.users.map((u) => u.email));
      cursor = body.nextCursor;
      // Inserts during pagination neither repeat nor skip anyone.
      if (pages === 0) {
        await t.app.inject({
          method: 'POST',
          url: '/auth/register',
          payload: { email: `${prefix}-late@example.com`, password: STRONG_PASSWORD },
        });
      }
      pages++;
    } while (cursor);
    expect(seen).toEqual([...made].reverse());
    expect(pages).toBe(3);

    const unverified = await call(
      'GET',
      `/admin/users?q=${prefix}&verified=false&limit=50`,
      admin.device,
    );
    expect(unverified.json().users).toHaveLength(6);
    expect(
      (await call('GET', `/admin/users?q=${prefix}&verified=true`, admin.device)).json().users,
    ).toHaveLength(0);
    const admins = await call('GET', '/admin/users?role=admin', admin.device);
    expect(admins.json().users.map((u: { id: string }) => u.id)).toContain(admin.id);
    expect((await call('GET', '/admin/users?q=%25', admin.device)).json().users).toHaveLength(0);
    expect((await call('GET', '/admin/users?cursor=bogus', admin.device)).json().code).toBe(
      'invalid_cursor',
    );
  });

  it('reads one user with their live sessions; 404 for unknown and malformed ids', async () => {
    const { email, id } = await verifiedUser(t, 'detail');
    await login(
      t,
      email,
      STRONG_PASSWORD,
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
    );
    const res = await call('GET', `/admin/users/${id}`, admin.device);
    expect(res.statusCode).toBe(200);
    expect(res.json().user).toMatchObject({ id, email, disabled: false, roles: [] });
    expect(res.json().sessions).toEqual([
      expect.objectContaining({ device: 'Firefox 133 on Windows 10', ip: '127.0.0.1' }),
    ]);
    expect((await call('GET', `/admin/users/${ZERO}`, admin.device)).statusCode).toBe(404);
    expect((await call('GET', '/admin/users/nope', admin.device)).statusCode).toBe(404);
  });

  it('revokes sessions, forces a reset, deletes a user and everything of theirs', async () => {
    const { email, id } = await verifiedUser(t, 'ops');
    const device = await login(t, email);
    expect(
      (await call('POST', `/admin/users/${id}/revoke-sessions`, admin.device)).statusCode,
    ).toBe(204);
    expect(await meStatus(t, device)).toBe(401);

    const again = await login(t, email);
    expect((await call('POST', `/admin/users/${id}/reset-password`, admin.device)).statusCode).toBe(
      202,
    );
    expect(await meStatus(t, again)).toBe(401);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(401); // the old password is gone
    const token = await t.tokenFromLatestMail(email);
    const reset = await t.app.inject({
      method: 'POST',
      url: '/auth/reset-password',
      payload: { token, password: 'lantern orchard quietly marble fjord' },
    });
    expect(reset.statusCode).toBe(204);
    expect(await loginStatus(t, email, 'lantern orchard quietly marble fjord')).toBe(200);

    expect((await call('DELETE', `/admin/users/${id}`, admin.device)).statusCode).toBe(204);
    expect((await call('GET', `/admin/users/${id}`, admin.device)).statusCode).toBe(404);
    for (const table of ['sessions', 'refresh_tokens', 'email_tokens', 'user_roles'] as const) {
      const rows = await t.database.db
        .selectFrom(table)
        .select('user_id')
        .where('user_id', '=', id)
        .execute();
      expect(rows, table).toEqual([]);
    }
    const mails = await t.database.db
      .selectFrom('mail_outbox')
      .select('id')
      .where('to_address', '=', email)
      .execute();
    expect(mails).toEqual([]);
    const { types, rows } = await auditOf(t, id);
    expect(types).toEqual(
      expect.arrayContaining(['admin.sessions_revoked', 'admin.password_reset', 'user.deleted']),
    );
    for (const row of rows.filter(
      (r) => r.type.startsWith('admin.') || r.type === 'user.deleted',
    )) {
      expect(row.actor_id).toBe(admin.id);
    }
  });

  it('disabling voids the links mailed before: enabling again does not revive them', async () => {
    const user = await verifiedUser(t, 'disabled-links');
    // Whoever knows the password asks to move the account to their address, and a reset is mailed.
    const intruder = await login(t, user.email);
    const intruderInbox = `intruder-${user.id.slice(0, 8)}@example.com`;
    const asked = await t.app.inject({
      method: 'POST',
      url: '/auth/change-email',
      headers: intruder.headers,
      payload: { newEmail: intruderInbox, password: STRONG_PASSWORD },
    });
    expect(asked.statusCode).toBe(202);
    const change = await t.tokenFromLatestMail(intruderInbox);
    await t.app.inject({
      method: 'POST',
      url: '/auth/forgot-password',
      payload: { email: user.email },
    });
    const reset = await t.tokenFromLatestMail(user.email);

    for (const disabled of [true, false]) {
      const res = await call('PATCH', `/admin/users/${user.id}`, admin.device, { disabled });
      expect(res.statusCode).toBe(200);
    }
    const followed = await t.app.inject({
      method: 'POST',
      url: '/auth/verify-email',
      payload: { token: change },
    });
    expect(followed.statusCode).toBe(400);
    const resetting = await t.app.inject({
      method: 'POST',
      url: '/auth/reset-password',
      payload: { token: reset, password: 'lantern orchard quietly marble fjord' },
    });
    expect(resetting.statusCode).toBe(400);
    expect(await loginStatus(t, user.email, STRONG_PASSWORD)).toBe(200);
  });
});
