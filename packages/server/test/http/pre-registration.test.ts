import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { loginStatus, mailsTo, OTHER_PASSWORD, uniqueEmail } from '../support/account.js';
import { backends } from '../support/db.js';

/**
 * Someone signs up with another person's address before or while they do. Every confirmation
 * link activates only the password of the sign-up that mailed it, and no sign-up voids another.
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
  const verify = (token: string) =>
    t.app.inject({ method: 'POST', url: '/auth/verify-email', payload: { token } });
  /** The token of every confirmation mail sent to `email`, oldest first. */
  const linksTo = async (email: string) =>
    (await mailsTo(t, email))
      .map((m) => /[?&]token=([A-Za-z0-9_-]{43})/.exec(m.text)?.[1])
      .filter((token): token is string => token !== undefined);

  it('the reported sequence: the victim keeps their link and the attacker gets nothing', async () => {
    const email = uniqueEmail('victim');
    expect((await register(email, ATTACKER_PASSWORD)).statusCode).toBe(202);
    expect(await loginStatus(t, email, ATTACKER_PASSWORD)).toBe(403);

    expect((await register(email, STRONG_PASSWORD)).statusCode).toBe(202);
    // The attacker's view does not change because someone else signed up.
    expect(await loginStatus(t, email, ATTACKER_PASSWORD)).toBe(403);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(403);
    const victimLink = (await linksTo(email))[1] as string;

    expect((await register(email, ATTACKER_PASSWORD)).statusCode).toBe(202);
    const links = await linksTo(email);
    expect(links).toHaveLength(3);
    expect(await loginStatus(t, email, ATTACKER_PASSWORD)).toBe(403);

    // The victim's link still works after the attacker's new sign-up, and sets the victim's password.
    const verified = await verify(victimLink);
    expect(verified.statusCode).toBe(200);
    expect(verified.json().user).toMatchObject({ email, emailVerified: true });
    expect(await loginStatus(t, email, ATTACKER_PASSWORD)).toBe(401);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);

    // The attacker's outstanding links died with the verification: they cannot change it later.
    for (const token of [links[0], links[2]] as string[]) {
      expect((await verify(token)).json().code).toBe('invalid_token');
    }
    expect(await loginStatus(t, email, ATTACKER_PASSWORD)).toBe(401);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
  });

  it("each link activates its own sign-up's password (and name), and all go to the one mailbox", async () => {
    const email = uniqueEmail('binding');
    await register(email, ATTACKER_PASSWORD, 'Mallory');
    await register(email, STRONG_PASSWORD, 'Victor');
    const mails = await mailsTo(t, email);
    expect(mails.map((m) => m.to)).toEqual([email, email]);
    const [attackerLink, victimLink] = await linksTo(email);
    expect(victimLink).toBeDefined();
    // Whoever follows the first mail activates the first sign-up's password: only the mailbox
    // owner can, since the link went nowhere else.
    const res = await verify(attackerLink as string);
    expect(res.json().user).toMatchObject({ name: 'Mallory', emailVerified: true });
    expect(await loginStatus(t, email, ATTACKER_PASSWORD)).toBe(200);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(401);
    expect((await verify(victimLink as string)).json().code).toBe('invalid_token');
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
    expect((await verify(victimLink as string)).json().code).toBe('invalid_token');
    expect((await verify(renewed)).statusCode).toBe(200);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
    expect(await loginStatus(t, email, ATTACKER_PASSWORD)).toBe(401);
    expect((await verify(attackerLink as string)).json().code).toBe('invalid_token');
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
    for (const token of attackerLinks) expect((await verify(token)).statusCode).toBe(400);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
    expect(await loginStatus(t, email, ATTACKER_PASSWORD)).toBe(401);
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
});
