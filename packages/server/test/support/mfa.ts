import { Secret, TOTP } from 'otpauth';
import type { Device } from './account.js';
import { cookieFrom, STRONG_PASSWORD, type TestApp } from './app.js';

/** Helpers of the second-factor suites (test/mfa). */

/** The authenticator app's code for `secret`, `steps` time steps from the test clock's now. */
export function totpCode(t: Pick<TestApp, 'clock'>, secret: string, steps = 0): string {
  return TOTP.generate({
    secret: Secret.fromBase32(secret),
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
    timestamp: t.clock.now().getTime() + steps * 30_000,
  });
}

/** Sets up and confirms an authenticator app from a signed-in device. */
export async function enrolTotp(t: TestApp, device: Device) {
  const setup = await t.app.inject({
    method: 'POST',
    url: '/auth/mfa/totp/setup',
    headers: device.headers,
  });
  if (setup.statusCode !== 200) throw new Error(`setup: ${setup.statusCode} ${setup.body}`);
  const { secret } = setup.json() as { secret: string };
  const confirm = await t.app.inject({
    method: 'POST',
    url: '/auth/mfa/totp/confirm',
    headers: device.headers,
    payload: { code: totpCode(t, secret) },
  });
  if (confirm.statusCode !== 200) throw new Error(`confirm: ${confirm.statusCode} ${confirm.body}`);
  // The code just used is spent: later sign-ins use the next step's.
  t.clock.advance(30);
  return { secret, recoveryCodes: (confirm.json() as { recoveryCodes: string[] }).recoveryCodes };
}

/** POST /auth/login for an account with a factor: the pending sign-in cookie and the answer. */
export async function passwordStep(t: TestApp, email: string, password = STRONG_PASSWORD) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password },
  });
  if (res.statusCode !== 200) throw new Error(`login: ${res.statusCode} ${res.body}`);
  return { res, pending: cookieFrom(res.headers['set-cookie']) };
}

/** POST /auth/mfa/verify with the pending cookie. */
export function verify(t: TestApp, pending: string, payload: object) {
  return t.app.inject({
    method: 'POST',
    url: '/auth/mfa/verify',
    headers: { cookie: pending },
    payload,
  });
}

/** A full sign-in with the authenticator app: the signed-in device. */
export async function signInWithTotp(t: TestApp, email: string, secret: string): Promise<Device> {
  const { pending } = await passwordStep(t, email);
  const res = await verify(t, pending, { method: 'totp', code: totpCode(t, secret) });
  if (res.statusCode !== 200) throw new Error(`verify: ${res.statusCode} ${res.body}`);
  t.clock.advance(30);
  const cookie = cookieFrom(res.headers['set-cookie']);
  const { csrfToken } = res.json() as { csrfToken: string };
  return { cookie, csrfToken, headers: { cookie, 'x-csrf-token': csrfToken } };
}
