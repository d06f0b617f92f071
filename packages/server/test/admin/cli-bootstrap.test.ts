import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adminServiceFor,
  CommandError,
  createAdminCommand,
  setDisabledCommand,
  setRolesCommand,
  usersListCommand,
} from '../../src/cli/admin.js';
import type { AdminService } from '../../src/core/admin.js';
import {
  ACCOUNT_TEST_ENV,
  auditOf,
  login,
  loginStatus,
  meStatus,
  uniqueEmail,
  verifiedUser,
} from '../support/account.js';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { backends, createTestDatabase } from '../support/db.js';
import { loadConfig } from '../../src/config/config.js';
import { createLatchkey } from '../../src/app/latchkey.js';

describe.each(backends)('the admin commands on %s', (backend) => {
  let t: TestApp;
  let admin: AdminService;
  let lines: string[];
  const out = { info: (l: string) => lines.push(l), error: (l: string) => lines.push(l) };
  beforeAll(async () => {
    t = await createTestApp(backend, ACCOUNT_TEST_ENV);
    admin = adminServiceFor(loadConfig({ NODE_ENV: 'test' }), t.database.db);
  });
  afterAll(() => t.close());

  it('create-admin makes a verified admin who can sign in; refuses a taken email and a weak password', async () => {
    lines = [];
    const email = uniqueEmail('cli-admin');
    await createAdminCommand(admin, { email, password: STRONG_PASSWORD }, out);
    expect(lines.join('\n')).toMatch(/Created the admin/);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
    await expect(
      createAdminCommand(admin, { email, password: STRONG_PASSWORD }, out),
    ).rejects.toThrow(/already has an account.*set-roles/);
    await expect(
      createAdminCommand(admin, { email: uniqueEmail('weak'), password: 'password' }, out),
    ).rejects.toBeInstanceOf(CommandError);
  });

  it('disable ends live sessions at once, enable lets the user back in', async () => {
    const { email, id } = await verifiedUser(t, 'cli-disable');
    const device = await login(t, email);
    lines = [];
    await setDisabledCommand(admin, email, true, out);
    expect(await meStatus(t, device)).toBe(401);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(401);
    await setDisabledCommand(admin, email, false, out);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
    expect(lines).toEqual([expect.stringMatching(/^Disabled/), expect.stringMatching(/^Enabled/)]);
    const { rows } = await auditOf(t, id);
    const disabled = rows.find((r) => r.type === 'user.disabled');
    expect(disabled?.actor_id).toBeNull();
    expect(disabled?.data).toMatchObject({ via: 'cli' });
    await expect(setDisabledCommand(admin, 'nobody@example.com', true, out)).rejects.toThrow(
      /no such user/i,
    );
  });

  it('set-roles replaces roles, lists by role, and keeps the last admin', async () => {
    const fresh = await createTestApp(backend, ACCOUNT_TEST_ENV);
    try {
      const cli = adminServiceFor(loadConfig({ NODE_ENV: 'test' }), fresh.database.db);
      const { email } = await verifiedUser(fresh, 'cli-roles');
      lines = [];
      await setRolesCommand(cli, email, ['admin'], out);
      expect(lines.at(-1)).toMatch(/roles: admin$/);
      lines = [];
      await usersListCommand(cli, { role: 'admin' }, out);
      expect(lines).toEqual([expect.stringContaining(`${email}  verified  roles: admin`)]);
      await expect(setRolesCommand(cli, email, [], out)).rejects.toThrow(
        /no enabled account with the admin role/,
      );
      await expect(setDisabledCommand(cli, email, true, out)).rejects.toThrow(/admin role/);
      await expect(setRolesCommand(cli, email, ['nope'], out)).rejects.toThrow(
        /No such role: nope/,
      );
      await expect(usersListCommand(cli, { limit: 'many' }, out)).rejects.toThrow(/--limit/);
    } finally {
      await fresh.close();
    }
  });
});

describe.each(backends)('the bootstrap admin on %s', (backend) => {
  const env = (email: string, password = STRONG_PASSWORD) =>
    loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      RATE_LIMITS: 'off',
      KEY_ENCRYPTION_SECRET: 'test-key-encryption-secret-0123456789abcdef',
      BOOTSTRAP_ADMIN_EMAIL: email,
      BOOTSTRAP_ADMIN_PASSWORD: password,
    });

  it('is created at start when no admin exists, and never touches an existing account', async () => {
    const database = await createTestDatabase(backend);
    try {
      const first = await createLatchkey(env('boot@example.com'), {
        database,
        startMailWorker: false,
      });
      const login = await first.app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email: 'boot@example.com', password: STRONG_PASSWORD },
      });
      expect(login.statusCode).toBe(200);
      expect(login.json().user).toMatchObject({ emailVerified: true, roles: ['admin'] });
      await first.close();

      // An admin exists now: another bootstrap address is ignored.
      const second = await createLatchkey(env('other@example.com'), {
        database,
        startMailWorker: false,
      });
      expect((await second.admin.listUsers({ q: 'other@', limit: 5 })).users).toEqual([]);
      // An existing account is left alone (not promoted, password unchanged).
      const users = await second.admin.listUsers({ role: 'admin', limit: 5 });
      expect(users.users.map((u) => u.email)).toEqual(['boot@example.com']);
      await second.close();
    } finally {
      await database.close();
    }
  });

  it('leaves an existing account alone even when there is no admin, and refuses a weak password', async () => {
    const database = await createTestDatabase(backend);
    try {
      const plain = await createLatchkey(env('someone@example.com'), {
        database,
        startMailWorker: false,
      });
      // Made an admin by the bootstrap; now demote it through the store to simulate "no admin".
      await database.db.deleteFrom('user_roles').execute();
      await plain.close();
      const again = await createLatchkey(
        env('someone@example.com', 'other password entirely, long'),
        {
          database,
          startMailWorker: false,
        },
      );
      const found = await again.admin.findByEmail('someone@example.com');
      expect(found.roles).toEqual([]);
      const login = await again.app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email: 'someone@example.com', password: STRONG_PASSWORD },
      });
      expect(login.statusCode).toBe(200);
      await again.close();

      await database.db.deleteFrom('users').execute();
      await expect(
        createLatchkey(env('weak@example.com', 'password'), { database, startMailWorker: false }),
      ).rejects.toThrow(/BOOTSTRAP_ADMIN_PASSWORD is refused/);
    } finally {
      await database.close();
    }
  });

  it('needs both variables', () => {
    expect(() => loadConfig({ BOOTSTRAP_ADMIN_EMAIL: 'a@example.com' })).toThrow(
      /must be set together/,
    );
  });
});
