import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  changePassword,
  forgotPassword,
  login,
  loginStatus,
  OTHER_PASSWORD,
  resetPassword,
  THIRD_PASSWORD,
  uniqueEmail,
  verifiedUser,
} from '../support/account.js';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';
import { startPwnedPasswords } from '../support/pwned.js';

/** HIBP_URL: passwords found in breaches are refused wherever a password is chosen. */
describe.each(backends)('breached passwords (HIBP_URL) on %s', (backend) => {
  const BREACHED = OTHER_PASSWORD;
  let pwned: Awaited<ReturnType<typeof startPwnedPasswords>>;
  let t: TestApp;
  beforeAll(async () => {
    pwned = await startPwnedPasswords({ [BREACHED]: 1234 });
    t = await createTestApp(backend, { HIBP_URL: pwned.url, HIBP_TIMEOUT: '500ms' });
  });
  afterAll(async () => {
    await t.close();
    await pwned.close();
  });

  const refusedAsBreached = (res: { statusCode: number; json(): unknown }, field: string) => {
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({
      code: 'weak_password',
      errors: [{ field, message: expect.stringMatching(/known data breaches/) }],
    });
  };

  it('refuses one at sign-up, and accepts the next', async () => {
    const email = uniqueEmail('breach');
    const register = (password: string) =>
      t.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password } });
    refusedAsBreached(await register(BREACHED), 'password');
    expect((await register(STRONG_PASSWORD)).statusCode).toBe(202);
  });

  it('refuses one as a new password (change, reset), leaving the old one and the link', async () => {
    const { email } = await verifiedUser(t, 'breach-change');
    const device = await login(t, email);
    refusedAsBreached(await changePassword(t, device, STRONG_PASSWORD, BREACHED), 'newPassword');
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);

    await forgotPassword(t, email);
    const token = await t.tokenFromLatestMail(email);
    refusedAsBreached(await resetPassword(t, token, BREACHED), 'password');
    expect((await resetPassword(t, token, THIRD_PASSWORD)).statusCode).toBe(204);
  });

  it('lets sign-up through, and logs why, when the lookup service is down', async () => {
    pwned.mode = 'hang';
    try {
      const res = await t.app.inject({
        method: 'POST',
        url: '/auth/register',
        payload: { email: uniqueEmail('breach-down'), password: BREACHED },
      });
      expect(res.statusCode).toBe(202);
      expect(t.logs()).toMatch(/breached-password lookup failed/);
    } finally {
      pwned.mode = 'answer';
    }
  });
});
