import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userWithRoles } from '../../server/test/support/admin.js';
import { verifiedUser } from '../../server/test/support/account.js';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../../server/test/support/app.js';
import { assertCredential, createCredential } from '../../server/test/support/authenticator.js';
import { backends } from '../../server/test/support/db.js';
import { totpCode } from '../../server/test/support/mfa.js';
import { createClient, LatchkeyError, memoryCookieJar } from '../src/index.js';

const authenticator = { origin: 'http://localhost:3000' };

describe.each(backends)('@latchkey/sdk: second factors and passkeys on %s', (backend) => {
  let t: TestApp;
  let baseUrl: string;
  beforeAll(async () => {
    t = await createTestApp(backend, { RATE_LIMITS: 'off', MFA_REQUIRED_ROLES: 'admin' });
    baseUrl = await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => t.close());

  const cookieClient = () => createClient({ baseUrl, cookieJar: memoryCookieJar() });

  it('sets up the app, then signs in with a code in cookie and token mode', async () => {
    const { email } = await verifiedUser(t, 'sdk-totp');
    const client = cookieClient();
    expect(await client.login({ email, password: STRONG_PASSWORD })).toHaveProperty('user');
    expect(await client.mfa.status()).toMatchObject({ totp: null, required: false });
    const { secret, otpauthUrl, qrSvg } = await client.mfa.setupTotp();
    expect(otpauthUrl).toContain(secret);
    expect(qrSvg).toMatch(/^<svg/);
    const codes = await client.mfa.confirmTotp(totpCode(t, secret));
    expect(codes).toHaveLength(10);
    t.clock.advance(30);
    await client.logout();

    const fresh = cookieClient();
    expect(await fresh.login({ email, password: STRONG_PASSWORD })).toEqual({
      mfaRequired: true,
      methods: ['totp', 'recovery'],
    });
    const wrong = await fresh.mfa
      .verify({ method: 'totp', code: totpCode(t, secret, 4) })
      .catch((error: unknown) => error);
    expect(wrong).toBeInstanceOf(LatchkeyError);
    expect(wrong).toMatchObject({ status: 401, code: 'invalid_code' });
    const done = await fresh.mfa.verify({ method: 'totp', code: totpCode(t, secret) });
    expect(done).toMatchObject({ user: { email } });
    expect((await fresh.me()).amr).toEqual(['pwd', 'otp', 'mfa']);
    // The CSRF token came with the second step: a change works at once.
    expect(await fresh.mfa.regenerateRecoveryCodes()).toHaveLength(10);

    const token = createClient({ baseUrl, mode: 'token' });
    expect(await token.login({ email, password: STRONG_PASSWORD })).toMatchObject({
      mfaRequired: true,
    });
    t.clock.advance(30);
    const finished = await token.mfa.verify({ method: 'totp', code: totpCode(t, secret) });
    expect(finished).toHaveProperty('tokens');
    expect((await token.me()).amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(await token.currentTokens()).toMatchObject({ tokenType: 'Bearer' });
  });

  it('adds, renames, signs in with and removes a passkey; re-authenticates first', async () => {
    const { email } = await verifiedUser(t, 'sdk-passkey');
    const client = cookieClient();
    await client.login({ email, password: STRONG_PASSWORD });
    const options = await client.passkeys.registrationOptions();
    const { credential, response } = createCredential(
      options as Parameters<typeof createCredential>[0],
      authenticator,
    );
    const added = await client.passkeys.add(response, 'Laptop');
    expect(added).toMatchObject({ name: 'Laptop', lastUsedAt: null });
    expect((await client.passkeys.rename(added.id, 'Phone')).name).toBe('Phone');

    const other = cookieClient();
    const signedIn = await other.passkeys.login(
      assertCredential(credential, await other.passkeys.loginOptions(), authenticator),
    );
    expect(signedIn.user.email).toBe(email);
    expect((await other.me()).amr).toEqual(['hwk', 'mfa']);

    // The second step with the passkey after a password.
    const stepped = cookieClient();
    expect(await stepped.login({ email, password: STRONG_PASSWORD })).toEqual({
      mfaRequired: true,
      methods: ['passkey'],
    });
    const stepOptions = await stepped.mfa.passkeyOptions();
    await stepped.mfa.verify({
      method: 'passkey',
      response: assertCredential(credential, stepOptions, authenticator),
    });
    expect((await stepped.me()).amr).toEqual(['pwd', 'hwk', 'mfa']);

    t.clock.advance(11 * 60);
    await expect(other.passkeys.remove(added.id)).rejects.toMatchObject({
      status: 403,
      code: 'reauthentication_required',
    });
    await other.mfa.reauthenticate({ password: STRONG_PASSWORD });
    await other.passkeys.remove(added.id);
    expect((await other.mfa.status()).passkeys).toEqual([]);
  });

  it('client.admin.removeSecondFactors clears a user who lost their phone', async () => {
    const admin = await userWithRoles(t, 'sdk-admin', ['admin']);
    const adminClient = cookieClient();
    await adminClient.login({ email: admin.email, password: STRONG_PASSWORD });
    const { secret } = await adminClient.mfa.setupTotp();
    await adminClient.mfa.confirmTotp(totpCode(t, secret));
    t.clock.advance(30);

    const target = await verifiedUser(t, 'sdk-lost-phone');
    const targetClient = cookieClient();
    await targetClient.login({ email: target.email, password: STRONG_PASSWORD });
    const own = await targetClient.mfa.setupTotp();
    await targetClient.mfa.confirmTotp(totpCode(t, own.secret));

    await adminClient.admin.removeSecondFactors(target.id);
    expect(
      await cookieClient().login({ email: target.email, password: STRONG_PASSWORD }),
    ).toHaveProperty('user');
  });
});
