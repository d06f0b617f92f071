import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cookieFrom, createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { assertCredential, createCredential } from '../support/authenticator.js';
import { enrolTotp } from '../support/mfa.js';
import {
  forgotPassword,
  login,
  loginStatus,
  mailsTo,
  OTHER_PASSWORD,
  resetPassword,
  uniqueEmail,
  verifiedUser,
} from '../support/account.js';
import { backends } from '../support/db.js';

const ORIGIN = 'http://localhost:3000';

/**
 * Someone signs up with another person's address before or while they do. Every confirmation
 * mail goes to the one mailbox and they look alike, so a link activates nothing by itself: its
 * follower types the password they chose, and the sign-up with that password is activated.
 */
const ATTACKER_PASSWORD = 'attacker chosen passphrase goes here';

describe.each(backends)('sign-up attempts for an unverified address on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend);
  });
  afterAll(() => t.close());

  const register = (email: string, password: string, name?: string) =>
    t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email, password, ...(name ? { name } : {}) },
    });
  const verify = (token: string, password?: string) =>
    t.app.inject({
      method: 'POST',
      url: '/auth/verify-email',
      payload: { token, ...(password === undefined ? {} : { password }) },
    });
  /** The token of every confirmation mail sent to `email`, oldest first. */
  const linksTo = async (email: string) =>
    (await mailsTo(t, email))
      .map((m) => /[?&]token=([A-Za-z0-9_-]{43})/.exec(m.text)?.[1])
      .filter((token): token is string => token !== undefined);

  it("the reported sequence: the victim follows the attacker's newest link and keeps their own password", async () => {
    const email = uniqueEmail('victim');
    expect((await register(email, ATTACKER_PASSWORD)).statusCode).toBe(202);
    expect(await loginStatus(t, email, ATTACKER_PASSWORD)).toBe(403);

    expect((await register(email, STRONG_PASSWORD)).statusCode).toBe(202);
    // The attacker's view does not change because someone else signed up.
    expect(await loginStatus(t, email, ATTACKER_PASSWORD)).toBe(403);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(403);

    expect((await register(email, ATTACKER_PASSWORD)).statusCode).toBe(202);
    const links = await linksTo(email);
    expect(links).toHaveLength(3);
    expect(await loginStatus(t, email, ATTACKER_PASSWORD)).toBe(403);

    // The mails look alike: the victim opens the newest one, the attacker's, and types the
    // password they chose themselves.
    const verified = await verify(links[2] as string, STRONG_PASSWORD);
    expect(verified.statusCode).toBe(200);
    expect(verified.json().user).toMatchObject({ email, emailVerified: true });
    expect(await loginStatus(t, email, ATTACKER_PASSWORD)).toBe(401);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);

    // Every link is dead afterwards, whatever password comes with it.
    for (const token of links) {
      expect((await verify(token, ATTACKER_PASSWORD)).json().code).toBe('invalid_token');
      expect((await verify(token)).json().code).toBe('invalid_token');
    }
    expect(await loginStatus(t, email, ATTACKER_PASSWORD)).toBe(401);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
  });

  it('a sign-up link without a password answers password_required and stays usable', async () => {
    const email = uniqueEmail('required');
    await register(email, STRONG_PASSWORD, 'Victor');
    const [link] = await linksTo(email);
    const res = await verify(link as string);
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({
      code: 'password_required',
      errors: [{ field: 'password' }],
    });
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(403);
    const ok = await verify(link as string, STRONG_PASSWORD);
    expect(ok.statusCode).toBe(200);
    expect(ok.json().user).toMatchObject({ name: 'Victor', emailVerified: true });
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
  });

  it('a password no sign-up chose answers password_mismatch and the link stays usable', async () => {
    const email = uniqueEmail('mismatch');
    await register(email, ATTACKER_PASSWORD);
    await register(email, STRONG_PASSWORD);
    const links = await linksTo(email);
    const res = await verify(links[0] as string, OTHER_PASSWORD);
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const body = res.json();
    expect(body.code).toBe('password_mismatch');
    expect(body.errors).toEqual([{ field: 'password', message: expect.any(String) }]);
    expect(body.detail).toMatch(/not the password/i);
    expect(body.detail).toMatch(/Forgot password/);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(403);
    expect(await loginStatus(t, email, ATTACKER_PASSWORD)).toBe(403);
    const ok = await verify(links[0] as string, STRONG_PASSWORD);
    expect(ok.statusCode).toBe(200);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
    expect(await loginStatus(t, email, ATTACKER_PASSWORD)).toBe(401);
  });

  it("the attacker's password typed on a link activates the attacker's sign-up: only the mailbox owner can choose that", async () => {
    const email = uniqueEmail('binding');
    await register(email, ATTACKER_PASSWORD, 'Mallory');
    await register(email, STRONG_PASSWORD, 'Victor');
    const mails = await mailsTo(t, email);
    expect(mails.map((m) => m.to)).toEqual([email, email]);
    const [attackerLink, victimLink] = await linksTo(email);
    expect(victimLink).toBeDefined();
    const res = await verify(attackerLink as string, ATTACKER_PASSWORD);
    expect(res.statusCode).toBe(200);
    expect(res.json().user).toMatchObject({ name: 'Mallory', emailVerified: true });
    expect(await loginStatus(t, email, ATTACKER_PASSWORD)).toBe(200);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(401);
    expect((await verify(victimLink as string, STRONG_PASSWORD)).json().code).toBe('invalid_token');
  });

  it("a password typed on another sign-up's link activates the typed one's name too", async () => {
    const email = uniqueEmail('name');
    await register(email, STRONG_PASSWORD, 'Victor');
    await register(email, ATTACKER_PASSWORD, 'Mallory');
    const links = await linksTo(email);
    const res = await verify(links[1] as string, STRONG_PASSWORD);
    expect(res.json().user).toMatchObject({ name: 'Victor', emailVerified: true });
  });

  it('a pending sign-up password never signs in, and costs a login exactly one hash', async () => {
    const email = uniqueEmail('cost');
    await register(email, ATTACKER_PASSWORD);
    await register(email, STRONG_PASSWORD);
    await register(email, OTHER_PASSWORD);
    const hashes = [
      vi.spyOn(t.hasher, 'hash'),
      vi.spyOn(t.hasher, 'verify'),
      vi.spyOn(t.hasher, 'verifyDummy'),
      vi.spyOn(t.hasher, 'hashLike'),
    ];
    const counts = [];
    for (const password of [ATTACKER_PASSWORD, STRONG_PASSWORD, 'none of the three passwords']) {
      for (const spy of hashes) spy.mockClear();
      await loginStatus(t, email, password);
      counts.push(hashes.reduce((sum, spy) => sum + spy.mock.calls.length, 0));
    }
    for (const spy of hashes) spy.mockRestore();
    expect(counts).toEqual([1, 1, 1]);
    expect(await loginStatus(t, email, OTHER_PASSWORD)).toBe(403);
    expect(await loginStatus(t, email, 'none of the three passwords')).toBe(401);
  });

  it('an email-change link needs no password, and ignores one sent with it', async () => {
    const { email } = await verifiedUser(t, 'mover');
    const device = await login(t, email);
    const first = uniqueEmail('moved');
    await t.app.inject({
      method: 'POST',
      url: '/auth/change-email',
      headers: device.headers,
      payload: { newEmail: first, password: STRONG_PASSWORD },
    });
    const res = await verify(await t.tokenFromLatestMail(first));
    expect(res.statusCode).toBe(200);
    expect(res.json().user.email).toBe(first);

    const second = uniqueEmail('moved-again');
    const again = await login(t, first);
    await t.app.inject({
      method: 'POST',
      url: '/auth/change-email',
      headers: again.headers,
      payload: { newEmail: second, password: STRONG_PASSWORD },
    });
    const ignored = await verify(await t.tokenFromLatestMail(second), 'not the password at all');
    expect(ignored.statusCode).toBe(200);
    expect(ignored.json().user.email).toBe(second);
    expect(await loginStatus(t, second, STRONG_PASSWORD)).toBe(200);
  });

  it('resend renews the newest sign-up link only; older sign-ups keep theirs', async () => {
    const email = uniqueEmail('resend');
    await register(email, ATTACKER_PASSWORD);
    await register(email, STRONG_PASSWORD);
    const [attackerLink, victimLink] = await linksTo(email);
    const resend = await t.app.inject({
      method: 'POST',
      url: '/auth/resend-verification',
      payload: { email },
    });
    expect(resend.statusCode).toBe(202);
    const links = await linksTo(email);
    expect(links).toHaveLength(3);
    const renewed = links[2] as string;
    // The older sign-up is still pending: its password still earns the same answer.
    expect(await loginStatus(t, email, ATTACKER_PASSWORD)).toBe(403);
    // The renewed link replaces the newest sign-up's own link, for the same password.
    expect((await verify(victimLink as string, STRONG_PASSWORD)).json().code).toBe('invalid_token');
    expect((await verify(renewed, STRONG_PASSWORD)).statusCode).toBe(200);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
    expect(await loginStatus(t, email, ATTACKER_PASSWORD)).toBe(401);
    expect((await verify(attackerLink as string, ATTACKER_PASSWORD)).json().code).toBe(
      'invalid_token',
    );
  });

  it('keeps at most three pending sign-ups; beyond, the mailbox is told to claim the account by reset', async () => {
    const email = uniqueEmail('flood');
    for (let i = 0; i < 3; i++) await register(email, ATTACKER_PASSWORD);
    const attackerLinks = await linksTo(email);
    expect(attackerLinks).toHaveLength(3);

    const fourth = await register(email, STRONG_PASSWORD);
    expect(fourth.statusCode).toBe(202);
    const mails = await mailsTo(t, email);
    expect(mails).toHaveLength(4);
    expect(mails[3]?.text).not.toMatch(/token=/);
    expect(mails[3]?.text).toMatch(/forgot|reset/i);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(401);

    // A reset link proves the mailbox too: it sets the owner's password and voids every sign-up link.
    await t.app.inject({ method: 'POST', url: '/auth/forgot-password', payload: { email } });
    const resetToken = await t.tokenFromLatestMail(email);
    const reset = await t.app.inject({
      method: 'POST',
      url: '/auth/reset-password',
      payload: { token: resetToken, password: STRONG_PASSWORD },
    });
    expect(reset.statusCode).toBe(204);
    for (const token of attackerLinks) {
      expect((await verify(token, ATTACKER_PASSWORD)).json().code).toBe('invalid_token');
    }
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
    expect(await loginStatus(t, email, ATTACKER_PASSWORD)).toBe(401);
  });

  it("keeps a sign-up's name with its link: the owner's reset inherits none of a pre-registrant's", async () => {
    const email = uniqueEmail('name-prereg');
    const signUp = await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email, password: ATTACKER_PASSWORD, name: 'Support Team - call +1 555 0100' },
    });
    expect(signUp.statusCode).toBe(202);
    await forgotPassword(t, email);
    const reset = await resetPassword(t, await t.tokenFromLatestMail(email), OTHER_PASSWORD);
    expect(reset.statusCode).toBe(204);
    const owner = await login(t, email, OTHER_PASSWORD);
    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: owner.headers });
    expect(me.json().user.name).toBeNull();

    // A sign-up's own link still brings its name along.
    const other = uniqueEmail('name-own');
    await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email: other, password: STRONG_PASSWORD, name: 'Ada' },
    });
    const link = await t.tokenFromLatestMail(other);
    const verified = await t.app.inject({
      method: 'POST',
      url: '/auth/verify-email',
      payload: { token: link, password: STRONG_PASSWORD },
    });
    expect(verified.json().user.name).toBe('Ada');
  });
});

describe.each(backends)('sign-up without required verification on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend, { REQUIRE_EMAIL_VERIFICATION: 'false' });
  });
  afterAll(() => t.close());

  it('the verification link only confirms the address; the password stays the signed-up one', async () => {
    const email = uniqueEmail('open');
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email, password: STRONG_PASSWORD },
    });
    expect(res.statusCode).toBe(201);
    const again = await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email, password: ATTACKER_PASSWORD },
    });
    expect(again.json().code).toBe('email_taken');
    const token = await t.tokenFromLatestMail(email);
    const verified = await t.app.inject({
      method: 'POST',
      url: '/auth/verify-email',
      payload: { token },
    });
    expect(verified.json().user.emailVerified).toBe(true);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
    expect(await loginStatus(t, email, ATTACKER_PASSWORD)).toBe(401);
  });

  it("the confirm-only link's mail says how to take the address back, not to ignore it", async () => {
    const email = uniqueEmail('open-mail');
    await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email, password: ATTACKER_PASSWORD },
    });
    await t.app.inject({ method: 'POST', url: '/auth/resend-verification', payload: { email } });
    const mails = await mailsTo(t, email);
    expect(mails).toHaveLength(2);
    for (const mail of mails) {
      // The account works without the link: ignoring the mail would leave it to whoever made it.
      expect(mail.text).not.toContain('no account is activated');
      expect(mail.text).toContain('Forgot password');
    }
  });

  it('a confirm-only link ignores a password sent with it', async () => {
    const email = uniqueEmail('open-ignored');
    await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email, password: STRONG_PASSWORD },
    });
    const verified = await t.app.inject({
      method: 'POST',
      url: '/auth/verify-email',
      payload: { token: await t.tokenFromLatestMail(email), password: ATTACKER_PASSWORD },
    });
    expect(verified.statusCode).toBe(200);
    expect(verified.json().user.emailVerified).toBe(true);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
    expect(await loginStatus(t, email, ATTACKER_PASSWORD)).toBe(401);
  });

  it("the owner's reset removes the factors a pre-registrant set up: no passkey or app of theirs stays", async () => {
    const email = uniqueEmail('prehijack');
    const post = (url: string, headers: Record<string, string>, payload?: object) =>
      t.app.inject({ method: 'POST', url, headers, ...(payload ? { payload } : {}) });
    // Someone else signs up with the address first, is signed in at once, and adds a passkey
    // and an authenticator app to the unconfirmed account.
    const signUp = await post('/auth/register', {}, { email, password: ATTACKER_PASSWORD });
    expect(signUp.statusCode).toBe(201);
    const cookie = cookieFrom(signUp.headers['set-cookie']);
    const headers = { cookie, 'x-csrf-token': signUp.json().csrfToken as string };
    const options = (await post('/auth/passkeys/registration-options', headers)).json();
    const { credential, response } = createCredential(options, { origin: ORIGIN });
    expect((await post('/auth/passkeys', headers, { response })).statusCode).toBe(201);
    await enrolTotp(t, { cookie, csrfToken: headers['x-csrf-token'], headers });

    // The owner finds the address taken and resets the password, as security.md says.
    expect((await forgotPassword(t, email)).statusCode).toBe(202);
    const reset = await resetPassword(t, await t.tokenFromLatestMail(email), OTHER_PASSWORD);
    expect(reset.statusCode).toBe(204);

    // The pre-registrant's passkey no longer signs in, and the owner's sign-in asks for no code.
    const loginOptions = (await post('/auth/passkeys/login-options', {})).json();
    const assertion = assertCredential(credential, loginOptions, { origin: ORIGIN });
    const byPasskey = await post('/auth/passkeys/login', {}, { response: assertion });
    expect(byPasskey.statusCode).toBe(401);
    const owner = await post('/auth/login', {}, { email, password: OTHER_PASSWORD });
    expect(owner.statusCode).toBe(200);
    expect(owner.json().mfaRequired).toBeUndefined();
    expect(owner.json().user.emailVerified).toBe(true);
  });
});

describe.each(backends)('wrong passwords at a sign-up link on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend, {
      RATE_LIMITS: 'on',
      RATE_LIMIT_VERIFY_IP: '4/10m',
      LOGIN_THROTTLE_AFTER: '2',
    });
  });
  afterAll(() => t.close());

  const verify = (token: string, password: string, ip: string) =>
    t.app.inject({
      method: 'POST',
      url: '/auth/verify-email',
      payload: { token, password },
      remoteAddress: ip,
    });

  it("count as failed passwords of the account: the throttle stops guessing at the mailbox owner's password", async () => {
    const email = uniqueEmail('guess');
    await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email, password: STRONG_PASSWORD },
      remoteAddress: '192.0.2.10',
    });
    const token = await t.tokenFromLatestMail(email);
    // A fresh address for each guess: the per-account throttle, not the per-IP limit, answers.
    expect((await verify(token, OTHER_PASSWORD, '192.0.2.11')).json().code).toBe(
      'password_mismatch',
    );
    expect((await verify(token, OTHER_PASSWORD, '192.0.2.12')).json().code).toBe(
      'password_mismatch',
    );
    const throttled = await verify(token, STRONG_PASSWORD, '192.0.2.13');
    expect(throttled.statusCode).toBe(429);
    expect(throttled.json().code).toBe('rate_limited');
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
    // Once the delay has passed, the right password still works with the same link.
    t.clock.advance(3600);
    const ok = await verify(token, STRONG_PASSWORD, '192.0.2.14');
    expect(ok.statusCode).toBe(200);
    expect(ok.json().user.emailVerified).toBe(true);
  });

  it('are limited per IP like every request to the endpoint', async () => {
    // One wrong guess at each of five accounts: no account's throttle starts, the IP's limit does.
    const codes = [];
    for (let i = 0; i < 5; i++) {
      const email = uniqueEmail(`per-ip-${i}`);
      await t.app.inject({
        method: 'POST',
        url: '/auth/register',
        payload: { email, password: STRONG_PASSWORD },
        remoteAddress: `198.51.100.${10 + i}`,
      });
      const token = await t.tokenFromLatestMail(email);
      codes.push((await verify(token, OTHER_PASSWORD, '198.51.100.1')).json().code);
    }
    expect(codes).toEqual([
      'password_mismatch',
      'password_mismatch',
      'password_mismatch',
      'password_mismatch',
      'rate_limited',
    ]);
  });
});
