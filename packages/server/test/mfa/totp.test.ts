import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveEncryptionKeys, unseal } from '../../src/core/keys.js';
import { auditOf, login, mailsTo, verifiedUser } from '../support/account.js';
import { cookieFrom, STRONG_PASSWORD, type TestApp, createTestApp } from '../support/app.js';
import { backends } from '../support/db.js';
import { enrolTotp, passwordStep, signInWithTotp, totpCode, verify } from '../support/mfa.js';

describe.each(backends)('authenticator-app codes and recovery codes on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend, { MFA_REQUIRED_ROLES: 'admin' });
  });
  afterAll(() => t.close());

  const me = (cookie: string) =>
    t.app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } });

  it('sets up, confirms, then asks every sign-in for a code; the session records amr', async () => {
    const { email, id } = await verifiedUser(t, 'totp');
    const device = await login(t, email);

    const status = await t.app.inject({ method: 'GET', url: '/auth/mfa', headers: device.headers });
    expect(status.json()).toEqual({
      totp: null,
      recoveryCodesRemaining: 0,
      passkeys: [],
      required: false,
    });

    const setup = await t.app.inject({
      method: 'POST',
      url: '/auth/mfa/totp/setup',
      headers: device.headers,
    });
    expect(setup.statusCode).toBe(200);
    const { secret, otpauthUrl, qrSvg } = setup.json();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(otpauthUrl).toBe(
      `otpauth://totp/Latchkey:${encodeURIComponent(email)}?issuer=Latchkey&secret=${secret}&algorithm=SHA1&digits=6&period=30`,
    );
    expect(qrSvg).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);

    // Not active until confirmed: the password alone still signs in.
    const before = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: STRONG_PASSWORD },
    });
    expect(before.json()).toHaveProperty('csrfToken');

    const wrong = await t.app.inject({
      method: 'POST',
      url: '/auth/mfa/totp/confirm',
      headers: device.headers,
      payload: { code: '000000' === totpCode(t, secret) ? '111111' : '000000' },
    });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().code).toBe('invalid_code');

    const confirm = await t.app.inject({
      method: 'POST',
      url: '/auth/mfa/totp/confirm',
      headers: device.headers,
      payload: { code: totpCode(t, secret) },
    });
    expect(confirm.statusCode).toBe(200);
    const { recoveryCodes } = confirm.json();
    expect(recoveryCodes).toHaveLength(10);
    for (const code of recoveryCodes) expect(code).toMatch(/^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/);
    expect(new Set(recoveryCodes).size).toBe(10);
    // The confirming session counts as signed in with the app.
    expect((await me(device.cookie)).json().amr).toEqual(['pwd', 'otp', 'mfa']);
    t.clock.advance(30);

    const { res, pending } = await passwordStep(t, email);
    expect(res.json()).toEqual({ mfaRequired: true, methods: ['totp', 'recovery'] });
    const setCookies = [res.headers['set-cookie']].flat().join('\n');
    expect(setCookies).not.toMatch(/latchkey_session=/);
    expect(setCookies).toMatch(
      /latchkey_mfa=[A-Za-z0-9_-]{43}; Max-Age=300; Path=\/; HttpOnly; SameSite=Strict/,
    );

    const ok = await verify(t, pending, { method: 'totp', code: totpCode(t, secret) });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ user: { id, email }, csrfToken: expect.any(String) });
    const session = cookieFrom(ok.headers['set-cookie']);
    expect(session).toMatch(/^latchkey_session=/);
    const current = (await me(session)).json();
    expect(current.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(current.authenticatedAt).toBe(t.clock.now().toISOString());

    const { types, text } = await auditOf(t, id);
    expect(types).toEqual(
      expect.arrayContaining([
        'mfa.totp_setup_started',
        'mfa.totp_confirm_failed',
        'mfa.totp_enabled',
        'mfa.challenge_started',
        'mfa.succeeded',
      ]),
    );
    expect(text).not.toContain(secret);
    for (const code of recoveryCodes) expect(text).not.toContain(code);
    const mails = await mailsTo(t, email);
    expect(mails.at(-1)?.subject).toBe('A second factor was added to your Latchkey account');
  });

  it('accepts the previous and next step, refuses two steps away and any replay', async () => {
    const { email } = await verifiedUser(t, 'window');
    const { secret } = await enrolTotp(t, await login(t, email));
    // One step more, so that the previous step is not the one the confirmation spent.
    t.clock.advance(30);

    for (const steps of [-2, 2]) {
      const { pending } = await passwordStep(t, email);
      const far = await verify(t, pending, { method: 'totp', code: totpCode(t, secret, steps) });
      expect(far.statusCode).toBe(401);
      expect(far.json().code).toBe('invalid_code');
    }
    const { pending: first } = await passwordStep(t, email);
    expect(
      (await verify(t, first, { method: 'totp', code: totpCode(t, secret, -1) })).statusCode,
    ).toBe(200);
    const { pending: second } = await passwordStep(t, email);
    const next = totpCode(t, secret, 1);
    expect((await verify(t, second, { method: 'totp', code: next })).statusCode).toBe(200);

    // The same code again (still within its validity), and an older step: both refused.
    const { pending: third } = await passwordStep(t, email);
    const replay = await verify(t, third, { method: 'totp', code: next });
    expect(replay.statusCode).toBe(401);
    expect(replay.json().code).toBe('invalid_code');
    expect((await verify(t, third, { method: 'totp', code: totpCode(t, secret) })).statusCode).toBe(
      401,
    );
    t.clock.advance(60);
    expect((await verify(t, third, { method: 'totp', code: totpCode(t, secret) })).statusCode).toBe(
      200,
    );
  });

  it('keeps the secret encrypted: the database alone does not reveal it', async () => {
    const { email, id } = await verifiedUser(t, 'at-rest');
    const { secret } = await enrolTotp(t, await login(t, email));
    const row = await t.database.db
      .selectFrom('mfa_totp')
      .selectAll()
      .where('user_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(row.secret_encrypted).toMatch(/^v1\./);
    const right = deriveEncryptionKeys('test-key-encryption-secret-0123456789abcdef');
    expect(unseal(right.totpSecrets, row.secret_encrypted, `totp:${id}`)).toBe(secret);
    const wrong = deriveEncryptionKeys('another-key-encryption-secret-0123456789abcdef');
    expect(() => unseal(wrong.totpSecrets, row.secret_encrypted, `totp:${id}`)).toThrow();
    // Nor can the signing keys' key open it: one key per purpose.
    expect(() => unseal(right.signingKeys, row.secret_encrypted, `totp:${id}`)).toThrow();
    const codes = await t.database.db
      .selectFrom('mfa_recovery_codes')
      .select('code_hash')
      .where('user_id', '=', id)
      .execute();
    expect(codes).toHaveLength(10);
  });

  it('takes a recovery code once, and regeneration kills the old set', async () => {
    const { email, id } = await verifiedUser(t, 'recovery');
    const device = await login(t, email);
    const { recoveryCodes } = await enrolTotp(t, device);
    const [first, second] = recoveryCodes as [string, string];

    const { pending } = await passwordStep(t, email);
    // Typed in capitals and without dashes, it is the same code.
    const used = await verify(t, pending, {
      method: 'recovery',
      code: first.replaceAll('-', '').toUpperCase(),
    });
    expect(used.statusCode).toBe(200);
    const { pending: again } = await passwordStep(t, email);
    const reused = await verify(t, again, { method: 'recovery', code: first });
    expect(reused.statusCode).toBe(401);
    expect(reused.json().code).toBe('invalid_code');

    const status = await t.app.inject({ method: 'GET', url: '/auth/mfa', headers: device.headers });
    expect(status.json().recoveryCodesRemaining).toBe(9);

    const regenerated = await t.app.inject({
      method: 'POST',
      url: '/auth/mfa/recovery-codes',
      headers: device.headers,
    });
    expect(regenerated.statusCode).toBe(200);
    const fresh = regenerated.json().recoveryCodes as string[];
    expect(fresh).toHaveLength(10);
    expect(fresh).not.toContain(second);
    const old = await verify(t, again, { method: 'recovery', code: second });
    expect(old.statusCode).toBe(401);
    expect(
      (await verify(t, again, { method: 'recovery', code: fresh[0] as string })).statusCode,
    ).toBe(200);
    const { types } = await auditOf(t, id);
    expect(types).toEqual(expect.arrayContaining(['mfa.recovery_codes_generated', 'mfa.failed']));
  });

  it('signs in through /auth/token in token mode; the access token carries amr', async () => {
    const { email } = await verifiedUser(t, 'token-mode');
    const { secret } = await enrolTotp(t, await login(t, email));
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/token',
      payload: { email, password: STRONG_PASSWORD },
    });
    expect(res.statusCode).toBe(200);
    const { mfaToken, ...rest } = res.json();
    expect(rest).toEqual({ mfaRequired: true, methods: ['totp', 'recovery'] });
    expect(mfaToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(res.headers['set-cookie']).toBeUndefined();

    // The token mode's pending sign-in does not finish as a cookie sign-in, and vice versa.
    const asCookie = await verify(t, `latchkey_mfa=${mfaToken}`, {
      method: 'totp',
      code: totpCode(t, secret),
    });
    expect(asCookie.json().code).toBe('mfa_session_expired');

    const wrong = await t.app.inject({
      method: 'POST',
      url: '/auth/token/mfa',
      payload: { mfaToken, method: 'totp', code: totpCode(t, secret, 3) },
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().code).toBe('invalid_code');
    const pair = await t.app.inject({
      method: 'POST',
      url: '/auth/token/mfa',
      payload: { mfaToken, method: 'totp', code: totpCode(t, secret) },
    });
    expect(pair.statusCode).toBe(200);
    const { accessToken, refreshToken } = pair.json();
    expect(decodeJwt(accessToken).amr).toEqual(['pwd', 'otp', 'mfa']);
    const bearer = await t.app.inject({
      method: 'GET',
      url: '/auth/me',
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(bearer.json().amr).toEqual(['pwd', 'otp', 'mfa']);
    // A refreshed access token keeps it.
    const refreshed = await t.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refreshToken },
    });
    expect(decodeJwt(refreshed.json().accessToken).amr).toEqual(['pwd', 'otp', 'mfa']);
    // Single use.
    t.clock.advance(30);
    const again = await t.app.inject({
      method: 'POST',
      url: '/auth/token/mfa',
      payload: { mfaToken, method: 'totp', code: totpCode(t, secret) },
    });
    expect(again.json().code).toBe('mfa_session_expired');
  });

  it('refuses unknown fields, unknown methods and malformed codes without a 500', async () => {
    const { email } = await verifiedUser(t, 'bad-input');
    const { secret } = await enrolTotp(t, await login(t, email));
    const { pending } = await passwordStep(t, email);
    const code = totpCode(t, secret);
    for (const payload of [
      { method: 'totp', code, extra: 1 },
      { method: 'sms', code },
      { method: 'totp' },
      { method: 'passkey', response: { id: 'x' } },
      { method: 'totp', code: 'x'.repeat(65) },
    ]) {
      const res = await verify(t, pending, payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().code).toBe('validation_failed');
    }
    const letters = await verify(t, pending, { method: 'totp', code: 'abcdef' });
    expect(letters.json().code).toBe('invalid_code');
    expect((await verify(t, pending, { method: 'totp', code })).statusCode).toBe(200);
  });

  it('confirms a setup only while the sign-in is recent: a stale session cannot make itself recent again', async () => {
    const { email } = await verifiedUser(t, 'stale-confirm');
    const device = await login(t, email);
    const setup = await t.app.inject({
      method: 'POST',
      url: '/auth/mfa/totp/setup',
      headers: device.headers,
    });
    const { secret } = setup.json() as { secret: string };
    const confirm = () =>
      t.app.inject({
        method: 'POST',
        url: '/auth/mfa/totp/confirm',
        headers: device.headers,
        payload: { code: totpCode(t, secret) },
      });
    // Confirming adds a factor and marks the session as just authenticated: kept for later, a
    // started setup would let a session that was recent once become recent at will.
    t.clock.advance(11 * 60);
    const stale = await confirm();
    expect(stale.statusCode).toBe(403);
    expect(stale.json().code).toBe('reauthentication_required');
    const authenticatedAt = Date.parse((await me(device.cookie)).json().authenticatedAt);
    expect(t.clock.now().getTime() - authenticatedAt).toBeGreaterThanOrEqual(11 * 60_000);

    // With the password typed again, the same setup confirms.
    const reauth = await t.app.inject({
      method: 'POST',
      url: '/auth/reauthenticate',
      headers: device.headers,
      payload: { password: STRONG_PASSWORD },
    });
    expect(reauth.statusCode).toBe(204);
    const confirmed = await confirm();
    expect(confirmed.statusCode).toBe(200);
  });

  it('removes the app after recent authentication only, mails the owner, and drops the codes', async () => {
    const { email, id } = await verifiedUser(t, 'remove');
    const { secret } = await enrolTotp(t, await login(t, email));
    const device = await signInWithTotp(t, email, secret);

    t.clock.advance(11 * 60);
    const stale = await t.app.inject({
      method: 'DELETE',
      url: '/auth/mfa/totp',
      headers: device.headers,
    });
    expect(stale.statusCode).toBe(403);
    expect(stale.json().code).toBe('reauthentication_required');
    const regenerate = await t.app.inject({
      method: 'POST',
      url: '/auth/mfa/recovery-codes',
      headers: device.headers,
    });
    expect(regenerate.json().code).toBe('reauthentication_required');

    const reauth = (payload: object) =>
      t.app.inject({
        method: 'POST',
        url: '/auth/reauthenticate',
        headers: device.headers,
        payload,
      });
    const badPassword = await reauth({ password: 'not the password at all, really' });
    expect(badPassword.statusCode).toBe(401);
    expect(badPassword.json().code).toBe('invalid_credentials');
    const badCode = await reauth({ method: 'totp', code: totpCode(t, secret, 5) });
    expect(badCode.json().code).toBe('invalid_code');
    expect((await reauth({ method: 'totp', code: totpCode(t, secret) })).statusCode).toBe(204);
    expect((await me(device.cookie)).json().authenticatedAt).toBe(t.clock.now().toISOString());

    const removed = await t.app.inject({
      method: 'DELETE',
      url: '/auth/mfa/totp',
      headers: device.headers,
    });
    expect(removed.statusCode).toBe(204);
    const status = await t.app.inject({ method: 'GET', url: '/auth/mfa', headers: device.headers });
    expect(status.json()).toMatchObject({ totp: null, recoveryCodesRemaining: 0 });
    // The password alone signs in again.
    expect((await login(t, email)).csrfToken).toEqual(expect.any(String));
    const again = await t.app.inject({
      method: 'DELETE',
      url: '/auth/mfa/totp',
      headers: device.headers,
    });
    expect(again.statusCode).toBe(404);

    // Re-authenticating with the password works too.
    t.clock.advance(11 * 60);
    expect((await reauth({ password: STRONG_PASSWORD })).statusCode).toBe(204);

    const { types } = await auditOf(t, id);
    expect(types).toEqual(
      expect.arrayContaining(['mfa.totp_disabled', 'reauthenticated', 'reauthentication.failed']),
    );
    const mails = await mailsTo(t, email);
    expect(mails.at(-1)?.subject).toBe('A second factor was removed from your Latchkey account');
  });

  it('refuses a second setup while an app is active (409)', async () => {
    const { email } = await verifiedUser(t, 'twice');
    const device = await login(t, email);
    await enrolTotp(t, device);
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/mfa/totp/setup',
      headers: device.headers,
    });
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('totp_already_enabled');
  });
});
