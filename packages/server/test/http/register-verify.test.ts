import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';

const uniqueEmail = (tag: string) => `${tag}-${randomUUID().slice(0, 8)}@example.com`;

describe.each(backends)('register and verify on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend);
  });
  afterAll(() => t.close());

  const register = (body: Record<string, unknown>) =>
    t.app.inject({ method: 'POST', url: '/auth/register', payload: body });
  const login = (email: string, password = STRONG_PASSWORD) =>
    t.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });

  it('accepts a sign-up with 202 and mails a verification link to PUBLIC_URL/verify-email', async () => {
    const email = uniqueEmail('new');
    const res = await register({ email, password: STRONG_PASSWORD, name: 'Ada' });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ message: expect.any(String) });
    expect(res.headers['set-cookie']).toBeUndefined();
    await t.deliverMail();
    const mail = t.mails.filter((m) => m.to === email).at(-1);
    expect(mail?.subject).toMatch(/confirm/i);
    expect(mail?.text).toMatch(/ http:\/\/localhost:3000\/verify-email\?token=[A-Za-z0-9_-]{43}$/m);
    expect(mail?.html).toContain('http://localhost:3000/verify-email?token=');
  });

  it('answers an existing email exactly as a new one, hashes in both paths, and mails the owner', async () => {
    const email = uniqueEmail('dup');
    const first = await register({ email, password: STRONG_PASSWORD });
    await t.app.inject({
      method: 'POST',
      url: '/auth/verify-email',
      payload: { token: await t.tokenFromLatestMail(email), password: STRONG_PASSWORD },
    });
    const hash = vi.spyOn(t.hasher, 'judgeAndHash');
    const again = await register({
      email: email.toUpperCase(),
      password: 'another long passphrase for testing',
    });
    expect(hash).toHaveBeenCalledTimes(1);
    hash.mockRestore();
    expect(again.statusCode).toBe(first.statusCode);
    expect(again.json()).toEqual(first.json());
    expect(again.headers['content-length']).toBe(first.headers['content-length']);
    await t.deliverMail();
    const mail = t.mails.filter((m) => m.to === email).at(-1);
    expect(mail?.subject).toMatch(/tried to sign up/i);
    expect(mail?.text).not.toMatch(/token=/);
    // The existing account and its password are untouched.
    expect((await login(email)).statusCode).toBe(200);
  });

  it('refuses weak passwords with a reason the form can show', async () => {
    const short = await register({ email: uniqueEmail('weak'), password: 'short pass' });
    expect(short.statusCode).toBe(400);
    expect(short.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(short.json()).toMatchObject({
      code: 'weak_password',
      errors: [{ field: 'password', message: expect.stringMatching(/15/) }],
    });
    const email = uniqueEmail('personal');
    const personal = await register({ email, password: `${email}12345` });
    expect(personal.json().code).toBe('weak_password');
    const guessable = await register({
      email: uniqueEmail('guess'),
      password: 'aaaaaaaaaaaaaaaaaaaa',
    });
    expect(guessable.json().code).toBe('weak_password');
  });

  it('validates the body: bad email, unknown field, wrong type, missing field', async () => {
    const bad = await register({ email: 'not-an-email', password: STRONG_PASSWORD });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'validation_failed', errors: [{ field: 'email' }] });

    const unknown = await register({
      email: uniqueEmail('x'),
      password: STRONG_PASSWORD,
      isAdmin: true,
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().errors).toContainEqual({ field: 'isAdmin', message: 'Unknown field.' });

    const wrongType = await register({ email: uniqueEmail('x'), password: 12345 });
    expect(wrongType.statusCode).toBe(400);
    expect(wrongType.json().errors[0].field).toBe('password');

    const missing = await register({ email: uniqueEmail('x') });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().errors[0].field).toBe('password');
  });

  it('verifies once: the token works a single time, then any reuse is invalid_token', async () => {
    const email = uniqueEmail('verify');
    await register({ email, password: STRONG_PASSWORD });
    const token = await t.tokenFromLatestMail(email);
    const ok = await t.app.inject({
      method: 'POST',
      url: '/auth/verify-email',
      payload: { token, password: STRONG_PASSWORD },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().user).toMatchObject({ email, emailVerified: true, roles: [] });
    const again = await t.app.inject({
      method: 'POST',
      url: '/auth/verify-email',
      payload: { token, password: STRONG_PASSWORD },
    });
    expect(again.statusCode).toBe(400);
    expect(again.json().code).toBe('invalid_token');
  });

  it('consumes a token once even when two requests race', async () => {
    const email = uniqueEmail('race');
    await register({ email, password: STRONG_PASSWORD });
    const token = await t.tokenFromLatestMail(email);
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        t.app.inject({
          method: 'POST',
          url: '/auth/verify-email',
          payload: { token, password: STRONG_PASSWORD },
        }),
      ),
    );
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 400, 400, 400, 400]);
  });

  it('refuses unknown, malformed and expired tokens with one message', async () => {
    const unknown = await t.app.inject({
      method: 'POST',
      url: '/auth/verify-email',
      payload: { token: 'A'.repeat(43) },
    });
    const malformed = await t.app.inject({
      method: 'POST',
      url: '/auth/verify-email',
      payload: { token: "' or 1=1 --" },
    });
    const email = uniqueEmail('expired');
    await register({ email, password: STRONG_PASSWORD });
    const token = await t.tokenFromLatestMail(email);
    t.clock.advance(24 * 3600 + 1);
    const expired = await t.app.inject({
      method: 'POST',
      url: '/auth/verify-email',
      payload: { token, password: STRONG_PASSWORD },
    });
    for (const res of [unknown, malformed, expired]) {
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ code: 'invalid_token', detail: unknown.json().detail });
    }
  });

  it('resend-verification always answers 202, and a new link voids the old one', async () => {
    const email = uniqueEmail('resend');
    await register({ email, password: STRONG_PASSWORD });
    const oldToken = await t.tokenFromLatestMail(email);
    const resend = await t.app.inject({
      method: 'POST',
      url: '/auth/resend-verification',
      payload: { email },
    });
    const unknown = await t.app.inject({
      method: 'POST',
      url: '/auth/resend-verification',
      payload: { email: uniqueEmail('nobody') },
    });
    expect(resend.statusCode).toBe(202);
    expect(unknown.statusCode).toBe(202);
    expect(unknown.json()).toEqual(resend.json());
    const newToken = await t.tokenFromLatestMail(email);
    expect(newToken).not.toBe(oldToken);
    const old = await t.app.inject({
      method: 'POST',
      url: '/auth/verify-email',
      payload: { token: oldToken, password: STRONG_PASSWORD },
    });
    expect(old.json().code).toBe('invalid_token');
    const fresh = await t.app.inject({
      method: 'POST',
      url: '/auth/verify-email',
      payload: { token: newToken, password: STRONG_PASSWORD },
    });
    expect(fresh.statusCode).toBe(200);
  });

  it('a later sign-up activates its own password with its own link (pre-registration takes nothing)', async () => {
    const email = uniqueEmail('prereg');
    await register({ email, password: 'attacker chosen passphrase here' });
    await register({ email, password: STRONG_PASSWORD });
    const token = await t.tokenFromLatestMail(email);
    await t.app.inject({
      method: 'POST',
      url: '/auth/verify-email',
      payload: { token, password: STRONG_PASSWORD },
    });
    expect((await login(email, 'attacker chosen passphrase here')).statusCode).toBe(401);
    expect((await login(email)).statusCode).toBe(200);
  });

  it('serves the verify-email page without consuming the token on GET', async () => {
    const email = uniqueEmail('page');
    await register({ email, password: STRONG_PASSWORD });
    const token = await t.tokenFromLatestMail(email);
    // The React page (packages/web; test/http/web-pages.test.ts) POSTs the token on a click.
    const page = await t.app.inject({ method: 'GET', url: `/verify-email?token=${token}` });
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).not.toContain(token);
    const ok = await t.app.inject({
      method: 'POST',
      url: '/auth/verify-email',
      payload: { token, password: STRONG_PASSWORD },
    });
    expect(ok.statusCode).toBe(200);
  });
});

describe.each(backends)('register without required verification on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend, { REQUIRE_EMAIL_VERIFICATION: 'false' });
  });
  afterAll(() => t.close());

  it('signs the new user in (201 + cookie) and answers 409 email_taken for a taken address', async () => {
    const email = uniqueEmail('open');
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email, password: STRONG_PASSWORD },
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({
      user: { email, emailVerified: false },
      csrfToken: expect.any(String),
    });
    expect(res.headers['set-cookie']).toMatch(/^latchkey_session=/);
    const taken = await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email: email.toUpperCase(), password: STRONG_PASSWORD },
    });
    expect(taken.statusCode).toBe(409);
    expect(taken.json().code).toBe('email_taken');
    // A weak password is refused as such, whether or not the address is taken.
    const weak = await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email, password: 'aaaaaaaaaaaaaaaaaaaa' },
    });
    expect(weak.statusCode).toBe(400);
    expect(weak.json().code).toBe('weak_password');
    // Unverified accounts may sign in in this mode.
    const login = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: STRONG_PASSWORD },
    });
    expect(login.statusCode).toBe(200);
  });
});
