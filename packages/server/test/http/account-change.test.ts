import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCOUNT_TEST_ENV,
  auditOf,
  type Device,
  login,
  loginStatus,
  mailsTo,
  meStatus,
  OTHER_PASSWORD,
  uniqueEmail,
  verifiedUser,
} from '../support/account.js';
import { cookieFrom, createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';

describe.each(backends)('change password and change email on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend, ACCOUNT_TEST_ENV);
  });
  afterAll(() => t.close());

  const changePassword = (device: Device, body: Record<string, unknown>, csrf = true) =>
    t.app.inject({
      method: 'POST',
      url: '/auth/change-password',
      headers: csrf ? device.headers : { cookie: device.cookie },
      payload: body,
    });
  const changeEmail = (device: Device, body: Record<string, unknown>) =>
    t.app.inject({
      method: 'POST',
      url: '/auth/change-email',
      headers: device.headers,
      payload: body,
    });

  describe('POST /auth/change-password', () => {
    it('needs a session and the CSRF token', async () => {
      const anonymous = await t.app.inject({
        method: 'POST',
        url: '/auth/change-password',
        payload: { currentPassword: STRONG_PASSWORD, newPassword: OTHER_PASSWORD },
      });
      expect(anonymous.statusCode).toBe(401);
      const { email } = await verifiedUser(t, 'csrf');
      const device = await login(t, email);
      const res = await changePassword(
        device,
        { currentPassword: STRONG_PASSWORD, newPassword: OTHER_PASSWORD },
        false,
      );
      expect(res.statusCode).toBe(403);
      expect(res.json().code).toBe('csrf_failed');
      expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
    });

    it('changes the password, keeps only the current device signed in and mails a notice', async () => {
      const { email, id } = await verifiedUser(t, 'change');
      const current = await login(t, email, STRONG_PASSWORD, 'laptop');
      const phone = await login(t, email, STRONG_PASSWORD, 'phone');
      const tablet = await login(t, email, STRONG_PASSWORD, 'tablet');
      const res = await changePassword(current, {
        currentPassword: STRONG_PASSWORD,
        newPassword: OTHER_PASSWORD,
      });
      expect(res.statusCode).toBe(204);
      // The current device continues under a new cookie (test/http/session-rotation.test.ts).
      const rotated = cookieFrom(res.headers['set-cookie']);
      expect(await meStatus(t, { ...current, cookie: rotated })).toBe(200);
      expect(await meStatus(t, current)).toBe(401);
      expect(await meStatus(t, phone)).toBe(401);
      expect(await meStatus(t, tablet)).toBe(401);
      expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(401);
      expect(await loginStatus(t, email, OTHER_PASSWORD)).toBe(200);
      const notice = (await mailsTo(t, email)).at(-1);
      expect(notice?.subject).toMatch(/password was changed/i);
      const audit = await auditOf(t, id);
      const row = audit.rows.find((r) => r.type === 'password.changed');
      expect(row?.data).toMatchObject({ revokedSessions: 2 });
      expect(row?.ip).toBeTruthy(); // time, user, type, ip and user agent
      expect(row?.user_agent).toBeTruthy();
      expect(audit.text).not.toContain(OTHER_PASSWORD);
      expect(audit.text).not.toContain(STRONG_PASSWORD);
    });

    it('answers a wrong current password with 401 invalid_credentials and changes nothing', async () => {
      const { email, id } = await verifiedUser(t, 'wrong');
      const device = await login(t, email);
      const other = await login(t, email);
      const res = await changePassword(device, {
        currentPassword: 'not the right passphrase at all',
        newPassword: OTHER_PASSWORD,
      });
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('invalid_credentials');
      expect(res.json().errors[0].field).toBe('currentPassword');
      expect(await meStatus(t, device)).toBe(200);
      expect(await meStatus(t, other)).toBe(200);
      expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
      // Recorded as a failed password check, like a failed login (and throttled like one).
      const audit = await auditOf(t, id);
      expect(audit.rows.filter((r) => r.type === 'login.failed')).toHaveLength(1);
    });

    it('applies the password policy to the new password', async () => {
      const { email } = await verifiedUser(t, 'weak');
      const device = await login(t, email);
      const res = await changePassword(device, {
        currentPassword: STRONG_PASSWORD,
        newPassword: email,
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('weak_password');
      expect(res.json().errors[0].field).toBe('newPassword');
      expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
    });
  });

  describe('POST /auth/change-email', () => {
    it('mails a link to the new address; verifying it changes the email and tells the old one', async () => {
      const { email, id } = await verifiedUser(t, 'old');
      const device = await login(t, email);
      const newEmail = uniqueEmail('new');
      const res = await changeEmail(device, { newEmail, password: STRONG_PASSWORD });
      expect(res.statusCode).toBe(202);
      // Nothing changes before the link is followed.
      expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
      const token = await t.tokenFromLatestMail(newEmail);
      expect((await mailsTo(t, newEmail)).at(-1)?.text).toMatch(/\/verify-email\?token=/);

      const verified = await t.app.inject({
        method: 'POST',
        url: '/auth/verify-email',
        payload: { token },
      });
      expect(verified.statusCode).toBe(200);
      expect(verified.json().user).toMatchObject({ id, email: newEmail, emailVerified: true });
      expect(await loginStatus(t, newEmail, STRONG_PASSWORD)).toBe(200);
      expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(401);
      const told = (await mailsTo(t, email)).at(-1);
      expect(told?.subject).toMatch(/email address .* was changed/i);
      expect(told?.text).toContain(newEmail);
      // Single use.
      const again = await t.app.inject({
        method: 'POST',
        url: '/auth/verify-email',
        payload: { token },
      });
      expect(again.json().code).toBe('invalid_token');
      const audit = await auditOf(t, id);
      expect(audit.types).toEqual(
        expect.arrayContaining(['email_change.requested', 'email.changed']),
      );
      expect(audit.text).not.toContain(token);
    });

    it('answers a taken address with the same 202 and changes nothing', async () => {
      const { email } = await verifiedUser(t, 'taker');
      const { email: taken } = await verifiedUser(t, 'taken');
      const device = await login(t, email);
      const free = await changeEmail(device, {
        newEmail: uniqueEmail('free'),
        password: STRONG_PASSWORD,
      });
      const before = (await mailsTo(t, taken)).length;
      const res = await changeEmail(device, {
        newEmail: taken.toUpperCase(),
        password: STRONG_PASSWORD,
      });
      expect(res.statusCode).toBe(202);
      expect(res.body).toBe(free.body);
      expect((await mailsTo(t, taken)).length).toBe(before);
      expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
      expect(await loginStatus(t, taken, STRONG_PASSWORD)).toBe(200);
    });

    it('refuses the change when the address is taken between request and confirmation', async () => {
      const { email } = await verifiedUser(t, 'racer');
      const device = await login(t, email);
      const newEmail = uniqueEmail('contested');
      await changeEmail(device, { newEmail, password: STRONG_PASSWORD });
      const token = await t.tokenFromLatestMail(newEmail);
      await t.app.inject({
        method: 'POST',
        url: '/auth/register',
        payload: { email: newEmail, password: OTHER_PASSWORD },
      });
      const res = await t.app.inject({
        method: 'POST',
        url: '/auth/verify-email',
        payload: { token },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('invalid_token');
      expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
    });

    it('needs the right password (401) and a valid address (400)', async () => {
      const { email } = await verifiedUser(t, 'pw');
      const device = await login(t, email);
      const newEmail = uniqueEmail('never');
      const wrong = await changeEmail(device, {
        newEmail,
        password: 'not the right passphrase at all',
      });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json().code).toBe('invalid_credentials');
      expect(await mailsTo(t, newEmail)).toEqual([]);
      const invalid = await changeEmail(device, { newEmail: 'nope', password: STRONG_PASSWORD });
      expect(invalid.statusCode).toBe(400);
      expect(invalid.json().code).toBe('validation_failed');
    });
  });

  it('voids the earlier change link whether the new address is taken or not (no enumeration)', async () => {
    const outcome = async (target: string) => {
      const { email } = await verifiedUser(t, 'enum-asker');
      const device = await login(t, email);
      const mine = uniqueEmail('enum-inbox');
      const ask = (newEmail: string) =>
        t.app.inject({
          method: 'POST',
          url: '/auth/change-email',
          headers: device.headers,
          payload: { newEmail, password: STRONG_PASSWORD },
        });
      expect((await ask(mine)).statusCode).toBe(202);
      const earlier = await t.tokenFromLatestMail(mine);
      expect((await ask(target)).statusCode).toBe(202);
      // Had the earlier link kept working only for a taken address, following it would tell.
      const follow = await t.app.inject({
        method: 'POST',
        url: '/auth/verify-email',
        payload: { token: earlier },
      });
      return follow.statusCode;
    };
    const registered = await outcome((await verifiedUser(t, 'enum-target')).email);
    const unknown = await outcome(uniqueEmail('enum-nobody'));
    expect({ registered, unknown }).toEqual({ registered: 400, unknown: 400 });
  });
});
