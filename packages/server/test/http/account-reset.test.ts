import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/core/tokens.js';
import {
  ACCOUNT_TEST_ENV,
  auditOf,
  bearerMe as bearerMeOn,
  changePassword,
  forgotPassword,
  login,
  loginStatus,
  mailsTo,
  meStatus,
  OTHER_PASSWORD,
  resetPassword,
  THIRD_PASSWORD,
  uniqueEmail,
  verifiedUser,
} from '../support/account.js';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';

describe.each(backends)('forgot and reset password on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend, ACCOUNT_TEST_ENV);
  });
  afterAll(() => t.close());

  const forgot = (email: string) => forgotPassword(t, email);
  const reset = (token: string, password = OTHER_PASSWORD) => resetPassword(t, token, password);

  it('answers 202 with the same body for a known and an unknown email, mailing only the known', async () => {
    const { email } = await verifiedUser(t, 'forgot');
    const ghost = uniqueEmail('ghost');
    const known = await forgot(email);
    const unknown = await forgot(ghost);
    expect(known.statusCode).toBe(202);
    expect(unknown.statusCode).toBe(202);
    expect(unknown.body).toBe(known.body);
    // The mail is queued in the outbox (never sent inline): nothing was delivered yet.
    const before = t.mails.length;
    await t.account.settled();
    const pending = await t.database.db
      .selectFrom('mail_outbox')
      .select(['to_address', 'subject'])
      .where('status', '=', 'pending')
      .execute();
    expect(pending.some((m) => m.to_address === email && /reset/i.test(m.subject))).toBe(true);
    expect(t.mails.length).toBe(before);

    const mails = await mailsTo(t, email);
    const mail = mails.at(-1);
    expect(mail?.subject).toMatch(/reset your/i);
    expect(mail?.text).toMatch(/http:\/\/localhost:3000\/reset-password\?token=[A-Za-z0-9_-]{43}/);
    expect(mail?.text).toMatch(/30 minutes/);
    expect(await mailsTo(t, ghost)).toEqual([]);
  });

  it('stores only the hash of the reset token', async () => {
    const { email, id } = await verifiedUser(t, 'hashed');
    await forgot(email);
    const token = await t.tokenFromLatestMail(email);
    const rows = await t.database.db
      .selectFrom('email_tokens')
      .select(['token_hash', 'expires_at', 'created_at'])
      .where('user_id', '=', id)
      .where('purpose', '=', 'reset_password')
      .execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.token_hash).toBe(hashToken(token));
    const ttl = (rows[0]?.expires_at.getTime() ?? 0) - (rows[0]?.created_at.getTime() ?? 0);
    expect(ttl).toBe(30 * 60 * 1000);
  });

  it('resets: 204, old password refused, new one works, notice mailed, token single use', async () => {
    const { email, id } = await verifiedUser(t, 'reset');
    await forgot(email);
    const token = await t.tokenFromLatestMail(email);
    const res = await reset(token);
    expect(res.statusCode).toBe(204);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(401);
    expect(await loginStatus(t, email, OTHER_PASSWORD)).toBe(200);
    const notice = (await mailsTo(t, email)).at(-1);
    expect(notice?.subject).toMatch(/password was changed/i);
    expect(notice?.text).not.toMatch(/token=/);

    const again = await reset(token, THIRD_PASSWORD);
    expect(again.statusCode).toBe(400);
    expect(again.json().code).toBe('invalid_token');
    expect(await loginStatus(t, email, OTHER_PASSWORD)).toBe(200);

    const audit = await auditOf(t, id);
    expect(audit.types).toEqual(
      expect.arrayContaining(['password_reset.requested', 'password.reset']),
    );
    expect(audit.text).not.toContain(token);
    expect(audit.text).not.toContain(hashToken(token));
    expect(audit.text).not.toContain(OTHER_PASSWORD);
  });

  it('revokes the sessions of every device', async () => {
    const { email } = await verifiedUser(t, 'devices');
    const laptop = await login(t, email, STRONG_PASSWORD, 'laptop');
    const phone = await login(t, email, STRONG_PASSWORD, 'phone');
    expect(await meStatus(t, laptop)).toBe(200);
    expect(await meStatus(t, phone)).toBe(200);
    await forgot(email);
    expect((await reset(await t.tokenFromLatestMail(email))).statusCode).toBe(204);
    expect(await meStatus(t, laptop)).toBe(401);
    expect(await meStatus(t, phone)).toBe(401);
    const live = await t.database.db
      .selectFrom('sessions as s')
      .innerJoin('users as u', 'u.id', 's.user_id')
      .select(['s.revoked_reason'])
      .where('u.email', '=', email)
      .execute();
    expect(live.map((r) => r.revoked_reason)).toEqual(['password_reset', 'password_reset']);
  });

  it('revokes refresh tokens and access tokens (token mode) too', async () => {
    const { email } = await verifiedUser(t, 'tokens');
    const issued = await t.app.inject({
      method: 'POST',
      url: '/auth/token',
      payload: { email, password: STRONG_PASSWORD },
    });
    expect(issued.statusCode).toBe(200);
    const { accessToken, refreshToken } = issued.json() as {
      accessToken: string;
      refreshToken: string;
    };
    const bearerMe = () => bearerMeOn(t, accessToken);
    expect((await bearerMe()).statusCode).toBe(200);
    await forgot(email);
    expect((await reset(await t.tokenFromLatestMail(email))).statusCode).toBe(204);
    const refreshed = await t.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refreshToken },
    });
    expect(refreshed.statusCode).toBe(401);
    expect((await bearerMe()).statusCode).toBe(401);
  });

  it('refuses an expired token (30 minutes) with the same invalid_token', async () => {
    const { email } = await verifiedUser(t, 'expiry');
    await forgot(email);
    const token = await t.tokenFromLatestMail(email);
    t.clock.advance(30 * 60 + 1);
    const res = await reset(token);
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('invalid_token');
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
  });

  it('honours RESET_TOKEN_TTL', async () => {
    const short = await createTestApp(backend, { ...ACCOUNT_TEST_ENV, RESET_TOKEN_TTL: '5m' });
    try {
      const { email } = await verifiedUser(short, 'ttl');
      await short.app.inject({
        method: 'POST',
        url: '/auth/forgot-password',
        payload: { email },
      });
      const token = await short.tokenFromLatestMail(email);
      expect(short.mails.at(-1)?.text).toMatch(/5 minutes/);
      short.clock.advance(5 * 60 + 1);
      const res = await short.app.inject({
        method: 'POST',
        url: '/auth/reset-password',
        payload: { token, password: OTHER_PASSWORD },
      });
      expect(res.json().code).toBe('invalid_token');
    } finally {
      await short.close();
    }
  });

  it('works while sign-in is locked after repeated failures, and lifts the lock', async () => {
    const locked = await createTestApp(backend, { ...ACCOUNT_TEST_ENV, LOGIN_LOCK_AFTER: '3' });
    try {
      const { email } = await verifiedUser(locked, 'locked');
      for (let i = 0; i < 3; i++) {
        locked.clock.advance(3600); // past any growing delay
        expect(await loginStatus(locked, email, 'not the right passphrase at all')).toBe(401);
      }
      locked.clock.advance(3600);
      expect(await loginStatus(locked, email, STRONG_PASSWORD)).toBe(429);
      await locked.app.inject({
        method: 'POST',
        url: '/auth/forgot-password',
        payload: { email },
      });
      const token = await locked.tokenFromLatestMail(email);
      const res = await locked.app.inject({
        method: 'POST',
        url: '/auth/reset-password',
        payload: { token, password: OTHER_PASSWORD },
      });
      expect(res.statusCode).toBe(204);
      expect(await loginStatus(locked, email, OTHER_PASSWORD)).toBe(200);
    } finally {
      await locked.close();
    }
  });

  it('voids the first token when a second is requested', async () => {
    const { email } = await verifiedUser(t, 'twice');
    await forgot(email);
    const first = await t.tokenFromLatestMail(email);
    await forgot(email);
    const second = await t.tokenFromLatestMail(email);
    expect(second).not.toBe(first);
    expect((await reset(first)).json().code).toBe('invalid_token');
    expect((await reset(second)).statusCode).toBe(204);
  });

  it('gives one answer for unknown, malformed and used tokens', async () => {
    const strip = (body: Record<string, unknown>) => ({ ...body, requestId: undefined });
    const unknown = await reset('A'.repeat(43));
    const malformed = await reset('not-a-token');
    expect(unknown.statusCode).toBe(400);
    expect(malformed.statusCode).toBe(400);
    expect(strip(malformed.json())).toEqual(strip(unknown.json()));
    expect(unknown.json().code).toBe('invalid_token');
  });

  it('applies the password policy, and a refused password leaves the link usable', async () => {
    const { email } = await verifiedUser(t, 'policy');
    await forgot(email);
    const token = await t.tokenFromLatestMail(email);
    const weak = await reset(token, 'password1234567');
    expect(weak.statusCode).toBe(400);
    expect(weak.json().code).toBe('weak_password');
    expect(weak.json().errors[0].field).toBe('password');
    const short = await reset(token, 'abc');
    expect(short.json().code).toBe('weak_password');
    expect((await reset(token)).statusCode).toBe(204);
  });

  it('marks an unverified address verified: the reset proved the mailbox', async () => {
    const email = uniqueEmail('unverified');
    await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email, password: STRONG_PASSWORD },
    });
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(403);
    await forgot(email);
    expect((await reset(await t.tokenFromLatestMail(email))).statusCode).toBe(204);
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: OTHER_PASSWORD },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().user.emailVerified).toBe(true);
  });

  it('sends nothing for a disabled account', async () => {
    const { email, id } = await verifiedUser(t, 'disabled');
    await forgot(email);
    const token = await t.tokenFromLatestMail(email);
    await t.database.db
      .updateTable('users')
      .set({ disabled_at: new Date() })
      .where('id', '=', id)
      .execute();
    const before = (await mailsTo(t, email)).length;
    expect((await forgot(email)).statusCode).toBe(202);
    expect((await mailsTo(t, email)).length).toBe(before);
    // A link issued before the account was disabled does not work either.
    expect((await reset(token)).json().code).toBe('invalid_token');
  });

  it('a password change voids an outstanding reset link', async () => {
    const { email } = await verifiedUser(t, 'voided');
    await forgot(email);
    const token = await t.tokenFromLatestMail(email);
    const device = await login(t, email);
    const changed = await changePassword(t, device, STRONG_PASSWORD, OTHER_PASSWORD);
    expect(changed.statusCode).toBe(204);
    expect((await reset(token, THIRD_PASSWORD)).json().code).toBe('invalid_token');
    expect(await loginStatus(t, email, OTHER_PASSWORD)).toBe(200);
  });

  it('lets exactly one of two racing resets with the same token win', async () => {
    const { email } = await verifiedUser(t, 'race');
    await forgot(email);
    const token = await t.tokenFromLatestMail(email);
    const results = await Promise.all([reset(token, OTHER_PASSWORD), reset(token, THIRD_PASSWORD)]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([204, 400]);
  });

  it('serves the reset page without consuming the token: the form POSTs it', async () => {
    const { email } = await verifiedUser(t, 'page');
    await forgot(email);
    const token = await t.tokenFromLatestMail(email);
    // The React page (packages/web; test/http/web-pages.test.ts) POSTs the token on submit.
    const page = await t.app.inject({ method: 'GET', url: `/reset-password?token=${token}` });
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).not.toContain(token);
    // Opening the page did not use the token up.
    expect((await reset(token)).statusCode).toBe(204);
  });
});
