import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCOUNT_TEST_ENV,
  type Device,
  loginStatus,
  meStatus,
  verifiedUser,
} from '../support/account.js';
import { userWithRoles } from '../support/admin.js';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

describe.each(backends)('admin privilege limits on %s', (backend) => {
  let t: TestApp;
  let root: Awaited<ReturnType<typeof userWithRoles>>;
  beforeAll(async () => {
    t = await createTestApp(backend, ACCOUNT_TEST_ENV);
    root = await userWithRoles(t, 'root', ['admin']);
    const roles: [string, string[]][] = [
      ['manager', ['users:read', 'users:write', 'roles:write']],
      ['writer', ['users:write']],
      ['revoker', ['sessions:revoke']],
      ['auditor', ['audit:read']],
      [
        'operator',
        [
          'users:read',
          'users:write',
          'sessions:revoke',
          'audit:read',
          'roles:write',
          'webhooks:manage',
        ],
      ],
    ];
    for (const [name, permissions] of roles) {
      const res = await call('POST', '/admin/roles', root.device, { name, permissions });
      if (res.statusCode !== 201) throw new Error(`role ${name}: ${res.body}`);
    }
  });
  afterAll(() => t.close());

  function call(method: Method, url: string, device: Device, payload?: object) {
    return t.app.inject({
      method,
      url,
      headers: device.headers,
      ...(payload ? { payload } : {}),
    });
  }

  const rolesOf = async (id: string) =>
    (
      await t.database.db
        .selectFrom('user_roles')
        .select('role_name')
        .where('user_id', '=', id)
        .orderBy('role_name')
        .execute()
    ).map((r) => r.role_name);

  /** The admin.denied rows of an actor, oldest first. */
  const denials = async (actorId: string) =>
    t.database.db
      .selectFrom('audit_events')
      .selectAll()
      .where('type', '=', 'admin.denied')
      .where('actor_id', '=', actorId)
      .orderBy('id')
      .execute();

  it('refuses a change of your own roles, even adding admin with roles:write', async () => {
    const manager = await userWithRoles(t, 'self-manager', ['manager']);
    const res = await call('PATCH', `/admin/users/${manager.id}`, manager.device, {
      roles: ['manager', 'admin'],
    });
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json().code).toBe('cannot_change_own_roles');
    expect(await rolesOf(manager.id)).toEqual(['manager']);
    // Not even an admin: someone else takes a role away or gives one.
    const self = await call('PATCH', `/admin/users/${root.id}`, root.device, { roles: [] });
    expect(self.json().code).toBe('cannot_change_own_roles');
    expect(await rolesOf(root.id)).toEqual(['admin']);

    const rows = await denials(manager.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      user_id: manager.id,
      ip: '127.0.0.1',
      data: {
        action: 'user.update',
        targetId: manager.id,
        reason: 'own_roles',
        changes: { roles: ['manager', 'admin'] },
        via: 'api',
      },
    });
  });

  it('grants admin only to holders of every permission, and no role beyond your own', async () => {
    const manager = await userWithRoles(t, 'grant-manager', ['manager']);
    const other = await verifiedUser(t, 'grant-other');
    const admin = await call('PATCH', `/admin/users/${other.id}`, manager.device, {
      roles: ['admin'],
    });
    expect(admin.statusCode).toBe(403);
    expect(admin.json().code).toBe('insufficient_privilege');
    const auditor = await call('PATCH', `/admin/users/${other.id}`, manager.device, {
      roles: ['auditor'],
    });
    expect(auditor.statusCode).toBe(403);
    expect(auditor.json().code).toBe('insufficient_privilege');
    expect(await rolesOf(other.id)).toEqual([]);
    // A role within the manager's own permissions can be given.
    const writer = await call('PATCH', `/admin/users/${other.id}`, manager.device, {
      roles: ['writer'],
    });
    expect(writer.statusCode).toBe(200);
    expect(await rolesOf(other.id)).toEqual(['writer']);

    const rows = await denials(manager.id);
    expect(rows.map((r) => r.data)).toEqual([
      expect.objectContaining({
        action: 'user.update',
        targetId: other.id,
        reason: 'grant_role',
        role: 'admin',
        missing: ['audit:read', 'sessions:revoke', 'webhooks:manage'],
      }),
      expect.objectContaining({
        action: 'user.update',
        targetId: other.id,
        reason: 'grant_role',
        role: 'auditor',
        missing: ['audit:read'],
      }),
    ]);
    expect(rows.every((r) => r.user_id === manager.id)).toBe(true);

    // Every permission without the admin role is enough to grant it.
    const operator = await userWithRoles(t, 'grant-operator', ['operator']);
    const granted = await call('PATCH', `/admin/users/${other.id}`, operator.device, {
      roles: ['admin'],
    });
    expect(granted.statusCode).toBe(200);
    expect(await rolesOf(other.id)).toEqual(['admin']);
    await call('PATCH', `/admin/users/${other.id}`, root.device, { roles: [] });
  });

  it('keeps a users:write role off an admin: no disable, rename, delete or forced reset', async () => {
    const writer = await userWithRoles(t, 'writer', ['writer']);
    const target = await userWithRoles(t, 'target-admin', ['admin']);
    const attempts: [Method, string, object | undefined, string][] = [
      ['PATCH', `/admin/users/${target.id}`, { disabled: true }, 'user.update'],
      ['PATCH', `/admin/users/${target.id}`, { name: 'Owned' }, 'user.update'],
      ['DELETE', `/admin/users/${target.id}`, undefined, 'user.delete'],
      ['POST', `/admin/users/${target.id}/reset-password`, undefined, 'user.reset_password'],
    ];
    for (const [method, url, body] of attempts) {
      const res = await call(method, url, writer.device, body);
      expect(res.statusCode, `${method} ${url}`).toBe(403);
      expect(res.json().code, `${method} ${url}`).toBe('insufficient_privilege');
    }
    // Nothing happened to the admin: signed in, same password, same name and roles.
    expect(await meStatus(t, target.device)).toBe(200);
    expect(await loginStatus(t, target.email, STRONG_PASSWORD)).toBe(200);
    const detail = await call('GET', `/admin/users/${target.id}`, root.device);
    expect(detail.json().user).toMatchObject({ disabled: false, name: null, roles: ['admin'] });

    // Nor a manager, whose permissions an admin's exceed.
    const manager = await userWithRoles(t, 'outranked-manager', ['manager']);
    const onManager = await call('PATCH', `/admin/users/${manager.id}`, writer.device, {
      disabled: true,
    });
    expect(onManager.json().code).toBe('insufficient_privilege');
    // A plain user is within reach.
    const plain = await verifiedUser(t, 'writer-plain');
    const ok = await call('PATCH', `/admin/users/${plain.id}`, writer.device, { disabled: true });
    expect(ok.statusCode).toBe(200);

    const rows = await denials(writer.id);
    expect(rows.map((r) => [r.data.action, r.data.targetId, r.data.reason])).toEqual([
      ...attempts.map(([, , , action]) => [action, target.id, 'target_outranks']),
      ['user.update', manager.id, 'target_outranks'],
    ]);
    expect(rows[0]?.data).toMatchObject({
      changes: { disabled: true },
      missing: ['audit:read', 'roles:write', 'sessions:revoke', 'users:read', 'webhooks:manage'],
    });
  });

  it('keeps a sessions:revoke role from signing an admin out', async () => {
    const revoker = await userWithRoles(t, 'revoker', ['revoker']);
    const target = await userWithRoles(t, 'revoke-admin', ['admin']);
    const res = await call('POST', `/admin/users/${target.id}/revoke-sessions`, revoker.device);
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('insufficient_privilege');
    expect(await meStatus(t, target.device)).toBe(200);
    const plain = await userWithRoles(t, 'revoke-plain', []);
    const ok = await call('POST', `/admin/users/${plain.id}/revoke-sessions`, revoker.device);
    expect(ok.statusCode).toBe(204);
    expect(await meStatus(t, plain.device)).toBe(401);
    const rows = await denials(revoker.id);
    expect(rows.map((r) => r.data)).toEqual([
      expect.objectContaining({
        action: 'user.revoke_sessions',
        targetId: target.id,
        reason: 'target_outranks',
      }),
    ]);
  });

  it('lets roles:write create only roles within its own permissions', async () => {
    const manager = await userWithRoles(t, 'role-manager', ['manager']);
    const wider = await call('POST', '/admin/roles', manager.device, {
      name: 'wider',
      permissions: ['users:read', 'audit:read'],
    });
    expect(wider.statusCode).toBe(403);
    expect(wider.json().code).toBe('insufficient_privilege');
    const roles = (await call('GET', '/admin/roles', root.device)).json().roles as {
      name: string;
    }[];
    expect(roles.map((r) => r.name)).not.toContain('wider');
    const narrower = await call('POST', '/admin/roles', manager.device, {
      name: 'narrower',
      permissions: ['users:read'],
    });
    expect(narrower.statusCode).toBe(201);
    const rows = await denials(manager.id);
    expect(rows.map((r) => r.data)).toEqual([
      {
        action: 'role.create',
        role: 'wider',
        permissions: ['audit:read', 'users:read'],
        reason: 'grant_permission',
        missing: ['audit:read'],
        via: 'api',
      },
    ]);
  });
});
