import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  auditOf,
  changePassword,
  forgotPassword,
  login,
  OTHER_PASSWORD,
  resetPassword,
  verifiedUser,
} from '../support/account.js';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';
import { enrolTotp, passwordStep, signInWithTotp, totpCode, verify } from '../support/mfa.js';

describe.each(backends)('the pending sign-in between password and code on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend, { MFA_REQUIRED_ROLES: 'admin' });
  });
  afterAll(() => t.close());

  async function enrolled(tag: string) {
    const { email, id } = await verifiedUser(t, tag);
    const { secret } = await enrolTotp(t, await login(t, email));
    return { email, id, secret };
  }

  it('expires after 5 minutes', async () => {
    const { email, secret } = await enrolled('expiry');
    const { pending } = await passwordStep(t, email);
    t.clock.advance(301);
    const res = await verify(t, pending, { method: 'totp', code: totpCode(t, secret) });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('mfa_session_expired');
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it('is single use', async () => {
    const { email, secret } = await enrolled('single-use');
    const { pending } = await passwordStep(t, email);
    expect(
      (await verify(t, pending, { method: 'totp', code: totpCode(t, secret) })).statusCode,
    ).toBe(200);
    t.clock.advance(30);
    const again = await verify(t, pending, { method: 'totp', code: totpCode(t, secret) });
    expect(again.statusCode).toBe(401);
    expect(again.json().code).toBe('mfa_session_expired');
  });

  it("is bound to its user: another account's code does not finish it", async () => {
    const alice = await enrolled('alice');
    const bob = await enrolled('bob');
    const { pending } = await passwordStep(t, alice.email);
    const res = await verify(t, pending, { method: 'totp', code: totpCode(t, bob.secret) });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('invalid_code');
    const ok = await verify(t, pending, { method: 'totp', code: totpCode(t, alice.secret) });
    expect(ok.json().user.email).toBe(alice.email);
  });

  it('gives no session and opens no endpoint', async () => {
    const { email } = await enrolled('no-access');
    const { pending } = await passwordStep(t, email);
    const token = pending.split('=')[1] as string;
    const tokenPending = await t.app.inject({
      method: 'POST',
      url: '/auth/token',
      payload: { email, password: STRONG_PASSWORD },
    });
    const { mfaToken } = tokenPending.json();
    for (const headers of [
      { cookie: pending },
      { cookie: `latchkey_session=${token}` },
      { cookie: `latchkey_session=${mfaToken as string}` },
      { authorization: `Bearer ${mfaToken as string}` },
    ]) {
      for (const url of ['/auth/me', '/auth/sessions', '/auth/mfa', '/admin/users']) {
        const res = await t.app.inject({ method: 'GET', url, headers });
        expect(res.statusCode, `${url} ${JSON.stringify(headers)}`).toBe(401);
      }
      const reauth = await t.app.inject({
        method: 'POST',
        url: '/auth/reauthenticate',
        headers,
        payload: { password: STRONG_PASSWORD },
      });
      expect(reauth.statusCode).toBe(401);
    }
    const sessions = await t.database.db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select('sessions.id')
      .where('users.email', '=', email)
      .execute();
    // Only the session that enrolled the app exists.
    expect(sessions).toHaveLength(1);
  });

  it('throttles wrong codes per account with 429 and Retry-After, and ends after 10', async () => {
    const { email, id, secret } = await enrolled('throttle');
    const { pending } = await passwordStep(t, email);
    const wrong = () => verify(t, pending, { method: 'totp', code: totpCode(t, secret, 7) });
    for (let i = 1; i <= 5; i++) expect((await wrong()).statusCode).toBe(401);
    const limited = await wrong();
    expect(limited.statusCode).toBe(429);
    expect(limited.json().code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);

    // Another pending sign-in of the same account is held back just the same.
    const { pending: other } = await passwordStep(t, email);
    const otherRes = await verify(t, other, { method: 'totp', code: totpCode(t, secret) });
    expect(otherRes.statusCode).toBe(429);

    // Waiting out each delay, five more wrong codes end the pending sign-in.
    for (let i = 6; i <= 10; i++) {
      t.clock.advance(Number((await wrong()).headers['retry-after'] ?? 0));
      const res = await wrong();
      expect(res.statusCode).toBe(401);
    }
    t.clock.advance(20);
    const dead = await verify(t, pending, { method: 'totp', code: totpCode(t, secret) });
    expect(dead.statusCode).toBe(401);
    expect(dead.json().code).toBe('mfa_session_expired');

    const { rows } = await auditOf(t, id);
    const failed = rows.filter((r) => r.type === 'mfa.failed');
    expect(failed).toHaveLength(10);
    expect(failed.at(-1)?.data).toMatchObject({ method: 'totp', failures: 10 });
    expect(rows.map((r) => r.type)).toContain('mfa.throttled');

    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    const count = (outcome: string) =>
      Number(
        new RegExp(
          `^latchkey_second_steps_total\\{method="cookie",outcome="${outcome}"\\} (\\d+)`,
          'm',
        ).exec(metrics)?.[1],
      );
    expect(count('throttled')).toBeGreaterThanOrEqual(6);
    expect(count('failed')).toBeGreaterThanOrEqual(11);
  });

  // What the old password bought ends with it: whoever typed it (phished, relaying the owner's
  // codes) must not finish after the owner reset or changed it, or signed out everywhere.
  describe('ends when the owner takes the account back', () => {
    const reset = async (email: string) => {
      await forgotPassword(t, email);
      const token = await t.tokenFromLatestMail(email);
      expect((await resetPassword(t, token, OTHER_PASSWORD)).statusCode).toBe(204);
    };

    it('a password reset ends a pending sign-in in cookie mode', async () => {
      const { email, secret } = await enrolled('ended-by-reset');
      const { pending } = await passwordStep(t, email);
      await reset(email);
      const res = await verify(t, pending, { method: 'totp', code: totpCode(t, secret) });
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('mfa_session_expired');
    });

    it('a password reset ends a pending sign-in in token mode', async () => {
      const { email, id } = await verifiedUser(t, 'ended-by-reset-token');
      const { recoveryCodes } = await enrolTotp(t, await login(t, email));
      const started = await t.app.inject({
        method: 'POST',
        url: '/auth/token',
        payload: { email, password: STRONG_PASSWORD },
      });
      const { mfaToken } = started.json() as { mfaToken: string };
      await reset(email);
      const res = await t.app.inject({
        method: 'POST',
        url: '/auth/token/mfa',
        payload: { mfaToken, method: 'recovery', code: recoveryCodes[0] },
      });
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('mfa_session_expired');
      expect((await auditOf(t, id)).types).not.toContain('mfa.succeeded');
    });

    it('a password change ends a pending sign-in', async () => {
      const { email } = await verifiedUser(t, 'ended-by-change');
      const device = await login(t, email);
      const { secret } = await enrolTotp(t, device);
      const { pending } = await passwordStep(t, email);
      const changed = await changePassword(t, device, STRONG_PASSWORD, OTHER_PASSWORD);
      expect(changed.statusCode).toBe(204);
      const res = await verify(t, pending, { method: 'totp', code: totpCode(t, secret) });
      expect(res.statusCode).toBe(401);
    });

    it('"sign out everywhere else" ends pending sign-ins and keeps the caller signed in', async () => {
      const { email } = await verifiedUser(t, 'ended-by-sign-out');
      const device = await login(t, email);
      const { secret } = await enrolTotp(t, device);
      const { pending } = await passwordStep(t, email);
      const signedOut = await t.app.inject({
        method: 'DELETE',
        url: '/auth/sessions',
        headers: device.headers,
      });
      expect(signedOut.statusCode).toBe(204);
      const res = await verify(t, pending, { method: 'totp', code: totpCode(t, secret) });
      expect(res.statusCode).toBe(401);
      const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: device.headers });
      expect(me.statusCode).toBe(200);
      // A sign-in that starts afterwards goes through.
      await signInWithTotp(t, email, secret);
    });
  });
});
