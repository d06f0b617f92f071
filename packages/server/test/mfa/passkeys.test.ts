import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditOf, type Device, login, mailsTo, verifiedUser } from '../support/account.js';
import {
  assertCredential,
  type AuthenticatorOptions,
  type Credential,
  createCredential,
} from '../support/authenticator.js';
import { cookieFrom, createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';
import { passwordStep, verify } from '../support/mfa.js';

const ORIGIN = 'http://localhost:3000';
const authenticator: AuthenticatorOptions = { origin: ORIGIN };

describe.each(backends)('passkeys on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend, { MFA_REQUIRED_ROLES: 'admin' });
  });
  afterAll(() => t.close());

  const post = (url: string, headers: Record<string, string>, payload?: object) =>
    t.app.inject({ method: 'POST', url, headers, ...(payload ? { payload } : {}) });
  const me = (cookie: string) =>
    t.app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } });

  async function addPasskey(
    device: Device,
    o: AuthenticatorOptions = authenticator,
    name?: string,
  ) {
    const options = (await post('/auth/passkeys/registration-options', device.headers)).json();
    const { credential, response } = createCredential(options, o);
    const res = await post('/auth/passkeys', device.headers, {
      response,
      ...(name ? { name } : {}),
    });
    return { res, credential, options, response };
  }

  async function loginOptions() {
    const res = await post('/auth/passkeys/login-options', {});
    expect(res.statusCode).toBe(200);
    return res.json() as { challenge: string; rpId: string; userVerification: string };
  }

  async function passkeyLogin(credential: Credential, o: AuthenticatorOptions = authenticator) {
    const response = assertCredential(credential, await loginOptions(), o);
    return post('/auth/passkeys/login', {}, { response });
  }

  it('registers a passkey with RP ID and origin from PUBLIC_URL, then signs in with it alone', async () => {
    const { email, id } = await verifiedUser(t, 'passkey');
    const device = await login(t, email);
    const options = (await post('/auth/passkeys/registration-options', device.headers)).json();
    expect(options).toMatchObject({
      rp: { id: 'localhost', name: 'Latchkey' },
      user: { name: email },
      attestation: 'none',
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    });
    const { credential, response } = createCredential(options, authenticator);
    const created = await post('/auth/passkeys', device.headers, { response, name: 'Laptop' });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toEqual({
      id: expect.any(String),
      name: 'Laptop',
      createdAt: t.clock.now().toISOString(),
      lastUsedAt: null,
    });
    // The options are spent: the same answer again is refused.
    const again = await post('/auth/passkeys', device.headers, { response });
    expect(again.statusCode).toBe(400);
    expect(again.json().code).toBe('invalid_passkey');
    expect((await me(device.cookie)).json().amr).toEqual(['pwd', 'hwk', 'mfa']);

    const signedIn = await passkeyLogin(credential);
    expect(signedIn.statusCode).toBe(200);
    expect(signedIn.json().user).toMatchObject({ id, email });
    const current = (await me(cookieFrom(signedIn.headers['set-cookie']))).json();
    expect(current.amr).toEqual(['hwk', 'mfa']);

    const status = await t.app.inject({ method: 'GET', url: '/auth/mfa', headers: device.headers });
    expect(status.json().passkeys).toEqual([
      expect.objectContaining({ name: 'Laptop', lastUsedAt: t.clock.now().toISOString() }),
    ]);
    const { types } = await auditOf(t, id);
    expect(types).toContain('mfa.passkey_added');
    const mails = await mailsTo(t, email);
    expect(mails.at(-1)?.text).toMatch(/A passkey \("Laptop"\) was added/);
  });

  it('refuses registrations that do not check out', async () => {
    const { email } = await verifiedUser(t, 'bad-registration');
    const device = await login(t, email);
    const wrongOrigin = await addPasskey(device, { origin: 'https://evil.example.com' });
    expect(wrongOrigin.res.json().code).toBe('invalid_passkey');
    const unverified = await addPasskey(device, { origin: ORIGIN, userVerified: false });
    expect(unverified.res.json().code).toBe('invalid_passkey');
    // Options asked for by another user are not this user's to answer.
    const other = await login(t, (await verifiedUser(t, 'other-registrant')).email);
    const options = (await post('/auth/passkeys/registration-options', other.headers)).json();
    const { response } = createCredential(options, authenticator);
    expect((await post('/auth/passkeys', device.headers, { response })).json().code).toBe(
      'invalid_passkey',
    );
    const status = await t.app.inject({ method: 'GET', url: '/auth/mfa', headers: device.headers });
    expect(status.json().passkeys).toEqual([]);
  });

  it('answers one invalid_credentials for every failed passkey sign-in', async () => {
    const { email, id } = await verifiedUser(t, 'passkey-failures');
    const { credential } = await addPasskey(await login(t, email));
    const stranger = createCredential(
      { challenge: 'x', rp: { id: 'localhost' }, user: { id: 'c29tZW9uZQ' } },
      authenticator,
    ).credential;
    const options = await loginOptions();
    const used = assertCredential(credential, options, authenticator);
    expect((await post('/auth/passkeys/login', {}, { response: used })).statusCode).toBe(200);

    const tampered = assertCredential(credential, await loginOptions(), authenticator);
    tampered.response.signature = assertCredential(
      credential,
      await loginOptions(),
      authenticator,
    ).response.signature;
    const otherHandle = assertCredential(credential, await loginOptions(), authenticator);
    otherHandle.response.userHandle = Buffer.from('00000000-0000-7000-8000-000000000000').toString(
      'base64url',
    );
    const attempts = [
      assertCredential(stranger, await loginOptions(), authenticator), // unknown passkey
      assertCredential(credential, options, authenticator), // spent options
      assertCredential(credential, { challenge: 'bm90LWlzc3VlZA' }, authenticator), // never issued
      assertCredential(credential, await loginOptions(), { origin: 'https://evil.example.com' }),
      assertCredential(credential, await loginOptions(), { origin: ORIGIN, userVerified: false }),
      tampered,
      otherHandle,
    ];
    const bodies = new Set<string>();
    for (const response of attempts) {
      const res = await post('/auth/passkeys/login', {}, { response });
      expect(res.statusCode).toBe(401);
      const { requestId: _requestId, ...body } = res.json();
      bodies.add(JSON.stringify(body));
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    expect([...bodies]).toEqual([
      JSON.stringify({
        type: 'urn:latchkey:problem:invalid_credentials',
        title: 'Unauthorized',
        status: 401,
        detail: 'The email or password is incorrect.',
        code: 'invalid_credentials',
      }),
    ]);
    // A disabled account's passkey fails the same way.
    await t.database.db
      .updateTable('users')
      .set({ disabled_at: t.clock.now() })
      .where('id', '=', id)
      .execute();
    expect((await passkeyLogin(credential)).json().code).toBe('invalid_credentials');
    const { types } = await auditOf(t, id);
    expect(types.filter((type) => type === 'passkey_login.failed').length).toBeGreaterThan(0);
  });

  it('is a second step after the password, in cookie and in token mode; a synced passkey is swk', async () => {
    const { email } = await verifiedUser(t, 'passkey-step');
    const { credential } = await addPasskey(await login(t, email), {
      origin: ORIGIN,
      synced: true,
    });

    const { res, pending } = await passwordStep(t, email);
    expect(res.json()).toEqual({ mfaRequired: true, methods: ['passkey'] });
    const noPending = await post('/auth/mfa/passkey-options', {});
    expect(noPending.json().code).toBe('mfa_session_expired');
    const options = await post('/auth/mfa/passkey-options', { cookie: pending });
    expect(options.statusCode).toBe(200);
    expect(options.json().allowCredentials).toEqual([
      { id: credential.id.toString('base64url'), type: 'public-key', transports: ['internal'] },
    ]);
    // An assertion for other options (here: the discoverable sign-in's) does not pass.
    const foreign = assertCredential(credential, await loginOptions(), authenticator);
    const refused = await verify(t, pending, { method: 'passkey', response: foreign });
    expect(refused.json().code).toBe('invalid_code');
    const response = assertCredential(credential, options.json(), authenticator);
    const ok = await verify(t, pending, { method: 'passkey', response });
    expect(ok.statusCode).toBe(200);
    expect((await me(cookieFrom(ok.headers['set-cookie']))).json().amr).toEqual([
      'pwd',
      'swk',
      'mfa',
    ]);

    const token = await post('/auth/token', {}, { email, password: STRONG_PASSWORD });
    const { mfaToken } = token.json();
    const tokenOptions = await post('/auth/mfa/passkey-options', {}, { mfaToken });
    expect(tokenOptions.statusCode).toBe(200);
    const pair = await post(
      '/auth/token/mfa',
      {},
      {
        mfaToken,
        method: 'passkey',
        response: assertCredential(credential, tokenOptions.json(), authenticator),
      },
    );
    expect(pair.statusCode).toBe(200);
    expect(decodeJwt(pair.json().accessToken).amr).toEqual(['pwd', 'swk', 'mfa']);
  });

  it('renames, and removes only after re-authentication (with the passkey itself)', async () => {
    const { email, id } = await verifiedUser(t, 'passkey-manage');
    const device = await login(t, email);
    const { res, credential } = await addPasskey(device);
    const passkeyId = res.json().id as string;
    expect(res.json().name).toBe('Passkey 1');

    const rename = (target: string, payload: object, headers = device.headers) =>
      t.app.inject({ method: 'PATCH', url: `/auth/passkeys/${target}`, headers, payload });
    const renamed = await rename(passkeyId, { name: '  Phone  ' });
    expect(renamed.statusCode).toBe(200);
    expect(renamed.json().name).toBe('Phone');
    expect((await rename(passkeyId, { name: '' })).statusCode).toBe(400);
    expect((await rename('not-an-id', { name: 'x' })).statusCode).toBe(404);
    const stranger = await login(t, (await verifiedUser(t, 'stranger')).email);
    expect((await rename(passkeyId, { name: 'mine' }, stranger.headers)).statusCode).toBe(404);

    t.clock.advance(11 * 60);
    const remove = () =>
      t.app.inject({
        method: 'DELETE',
        url: `/auth/passkeys/${passkeyId}`,
        headers: device.headers,
      });
    const stale = await remove();
    expect(stale.statusCode).toBe(403);
    expect(stale.json().code).toBe('reauthentication_required');
    expect((await post('/auth/passkeys/registration-options', device.headers)).json().code).toBe(
      'reauthentication_required',
    );

    const response = assertCredential(credential, await loginOptions(), authenticator);
    const reauth = await post('/auth/reauthenticate', device.headers, {
      method: 'passkey',
      response,
    });
    expect(reauth.statusCode).toBe(204);
    expect((await remove()).statusCode).toBe(204);
    expect((await remove()).statusCode).toBe(404);
    expect((await passkeyLogin(credential)).json().code).toBe('invalid_credentials');

    const { types } = await auditOf(t, id);
    expect(types).toEqual(
      expect.arrayContaining(['mfa.passkey_renamed', 'reauthenticated', 'mfa.passkey_removed']),
    );
    const mails = await mailsTo(t, email);
    expect(mails.at(-1)?.text).toMatch(/A passkey \("Phone"\) was removed/);
  });
});
