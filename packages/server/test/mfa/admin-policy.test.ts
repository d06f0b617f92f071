import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditOf, login, mailsTo, verifiedUser } from '../support/account.js';
import { userWithRoles } from '../support/admin.js';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';
import { enrolTotp, passwordStep, signInWithTotp, totpCode, verify } from '../support/mfa.js';

describe.each(backends)('MFA_REQUIRED_ROLES and removing factors as an admin on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    // Unset over the test default (''), so the policy is the shipped default: admin.
    t = await createTestApp(backend, { MFA_REQUIRED_ROLES: undefined as unknown as string });
  });
  afterAll(() => t.close());

  const get = (url: string, headers: Record<string, string>) =>
    t.app.inject({ method: 'GET', url, headers });

  it('holds an admin without a factor at 403 mfa_enrollment_required until one is set up and used', async () => {
    expect(t.logs()).not.toContain('mfa_enrollment_required'); // no bootstrap admin here
    const admin = await userWithRoles(t, 'admin-no-factor', ['admin']);
    const refused = await get('/admin/users', admin.device.headers);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('mfa_enrollment_required');
    const status = await get('/auth/mfa', admin.device.headers);
    expect(status.json()).toMatchObject({ required: true, totp: null });

    // A bearer token signed in by password alone is held back the same way.
    const token = await t.app.inject({
      method: 'POST',
      url: '/auth/token',
      payload: { email: admin.email, password: STRONG_PASSWORD },
    });
    const bearer = { authorization: `Bearer ${token.json().accessToken as string}` };
    expect((await get('/admin/users', bearer)).json().code).toBe('mfa_enrollment_required');

    const { secret } = await enrolTotp(t, admin.device);
    expect((await get('/admin/users', admin.device.headers)).statusCode).toBe(200);
    // The token signed in before the factor existed still lacks it.
    expect((await get('/admin/users', bearer)).statusCode).toBe(403);

    // Later sign-ins go through the second step and reach the admin API.
    const device = await signInWithTotp(t, admin.email, secret);
    expect((await get('/admin/users', device.headers)).statusCode).toBe(200);
    const refusals = (await auditOf(t, admin.id)).rows.filter(
      (r) => r.data.reason === 'mfa_enrollment_required',
    );
    expect(refusals.length).toBeGreaterThan(0);
  });

  it('holds the webhook routes back the same way: a password alone cannot add a receiver of user events', async () => {
    const admin = await userWithRoles(t, 'admin-webhooks', ['admin']);
    const listed = await get('/admin/webhooks', admin.device.headers);
    expect(listed.statusCode).toBe(403);
    expect(listed.json().code).toBe('mfa_enrollment_required');
    const created = await t.app.inject({
      method: 'POST',
      url: '/admin/webhooks',
      headers: admin.device.headers,
      payload: { url: 'https://hooks.example.com/latchkey', events: ['session.created'] },
    });
    expect(created.statusCode).toBe(403);
    expect(created.json().code).toBe('mfa_enrollment_required');

    await enrolTotp(t, admin.device);
    expect((await get('/admin/webhooks', admin.device.headers)).statusCode).toBe(200);
  });

  it('leaves roles outside the policy alone', async () => {
    const support = await userWithRoles(t, 'plain', []);
    const res = await get('/admin/users', support.device.headers);
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('forbidden');
    expect((await get('/auth/mfa', support.device.headers)).json().required).toBe(false);
  });

  it('DELETE /admin/users/:id/mfa removes every factor, is audited and mails the user', async () => {
    const admin = await userWithRoles(t, 'admin-remover', ['admin']);
    const { secret: adminSecret } = await enrolTotp(t, admin.device);
    const target = await verifiedUser(t, 'lost-phone');
    const { secret } = await enrolTotp(t, await login(t, target.email));
    // The phone is lost: no code the user can type works.
    const { pending } = await passwordStep(t, target.email);
    const guess = await verify(t, pending, { method: 'totp', code: totpCode(t, secret, 9) });
    expect(guess.statusCode).toBe(401);

    const adminDevice = await signInWithTotp(t, admin.email, adminSecret);
    const plain = await userWithRoles(t, 'not-allowed', []);
    const denied = await t.app.inject({
      method: 'DELETE',
      url: `/admin/users/${target.id}/mfa`,
      headers: plain.device.headers,
    });
    expect(denied.statusCode).toBe(403);
    const unknown = await t.app.inject({
      method: 'DELETE',
      url: '/admin/users/00000000-0000-7000-8000-000000000000/mfa',
      headers: adminDevice.headers,
    });
    expect(unknown.statusCode).toBe(404);

    const removed = await t.app.inject({
      method: 'DELETE',
      url: `/admin/users/${target.id}/mfa`,
      headers: adminDevice.headers,
    });
    expect(removed.statusCode).toBe(204);

    // The password alone signs in again.
    const signIn = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: target.email, password: STRONG_PASSWORD },
    });
    expect(signIn.json()).toHaveProperty('csrfToken');
    const { rows } = await auditOf(t, target.id);
    const event = rows.find((r) => r.type === 'admin.mfa_removed');
    expect(event?.actor_id).toBe(admin.id);
    expect(event?.data).toMatchObject({ totp: true, recoveryCodes: 10, passkeys: 0, via: 'api' });
    const mails = await mailsTo(t, target.email);
    expect(mails.at(-1)?.subject).toBe('A second factor was removed from your Latchkey account');
    expect(mails.at(-1)?.text).toMatch(/An administrator removed every second factor/);
  });
});

describe('the bootstrap admin is told about the policy', () => {
  it('logs that the admin API waits for a second factor', async () => {
    const t = await createTestApp('pglite', {
      MFA_REQUIRED_ROLES: 'admin',
      BOOTSTRAP_ADMIN_EMAIL: 'boot@example.com',
      BOOTSTRAP_ADMIN_PASSWORD: STRONG_PASSWORD,
    });
    try {
      expect(t.logs()).toMatch(
        /Created the bootstrap admin boot@example\.com\. MFA_REQUIRED_ROLES includes admin/,
      );
    } finally {
      await t.close();
    }
  });
});
