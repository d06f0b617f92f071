import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../../server/test/support/app.js';
import { backends } from '../../server/test/support/db.js';
import {
  createClient,
  LatchkeyError,
  type MfaRequired,
  memoryCookieJar,
  memoryTokenStore,
  type User,
} from '../src/index.js';

const uniqueEmail = (tag: string) => `sdk-${tag}-${randomUUID().slice(0, 8)}@example.com`;

/** A fetch that records every request's method and path. */
/** The signed-in answer of `login()` (these accounts have no second factor). */
function signedIn(result: { user: User } | MfaRequired): { user: User } {
  if ('mfaRequired' in result) throw new Error('unexpected second step');
  return result;
}

function countingFetch() {
  const calls: string[] = [];
  const wrapped: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    calls.push(`${init?.method ?? 'GET'} ${url.pathname}`);
    return fetch(input, init);
  };
  return { fetch: wrapped, calls, count: (call: string) => calls.filter((c) => c === call).length };
}

describe.each(backends)('@latchkey/sdk against a running Latchkey on %s', (backend) => {
  let t: TestApp;
  let baseUrl: string;
  beforeAll(async () => {
    // Many sign-ups from one address: the per-IP limits would (rightly) stop them.
    const env: Record<string, string> = { RATE_LIMITS: 'off' };
    t = await createTestApp(backend, env);
    baseUrl = await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => t.close());

  /** Registers and verifies through the SDK itself. */
  async function verifiedUser(tag: string) {
    const email = uniqueEmail(tag);
    const client = createClient({ baseUrl });
    const registered = await client.register({ email, password: STRONG_PASSWORD, name: 'Ada' });
    expect(registered).toEqual({ message: expect.any(String) });
    const token = await t.tokenFromLatestMail(email);
    const { user } = await client.verifyEmail({ token, password: STRONG_PASSWORD });
    expect(user).toMatchObject({ email, name: 'Ada', emailVerified: true, roles: [] });
    return email;
  }

  it('verifyEmail reports a missing or wrong sign-up password with its code, and the link stays usable', async () => {
    const email = uniqueEmail('verify-password');
    const client = createClient({ baseUrl });
    await client.register({ email, password: STRONG_PASSWORD });
    const token = await t.tokenFromLatestMail(email);
    await expect(client.verifyEmail({ token })).rejects.toMatchObject({
      status: 400,
      code: 'password_required',
    });
    await expect(
      client.verifyEmail({ token, password: 'not the password chosen here' }),
    ).rejects.toMatchObject({ status: 400, code: 'password_mismatch' });
    const { user } = await client.verifyEmail({ token, password: STRONG_PASSWORD });
    expect(user).toMatchObject({ email, emailVerified: true });
  });

  describe('cookie mode', () => {
    it('signs in, reads the user, and signs out with the CSRF header handled', async () => {
      const email = await verifiedUser('cookie');
      const jar = memoryCookieJar();
      const client = createClient({ baseUrl, cookieJar: jar });
      const { user } = signedIn(await client.login({ email, password: STRONG_PASSWORD }));
      expect(user.email).toBe(email);
      const me = await client.me();
      expect(me.user).toEqual(user);
      expect(me.csrfToken).toEqual(expect.any(String));

      // A new client with the same cookie (a page reload): it fetches the CSRF token itself.
      const reloaded = createClient({ baseUrl, cookieJar: jar });
      await reloaded.logout();
      const error = await client.me().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LatchkeyError);
      expect(error).toMatchObject({ status: 401, code: 'unauthenticated' });
    });

    it('lists the signed-in devices and signs out the others', async () => {
      const email = await verifiedUser('devices');
      const first = createClient({ baseUrl, cookieJar: memoryCookieJar() });
      const second = createClient({ baseUrl, cookieJar: memoryCookieJar() });
      await first.login({ email, password: STRONG_PASSWORD });
      await second.login({ email, password: STRONG_PASSWORD });
      const { sessions } = await first.listSessions();
      expect(sessions).toHaveLength(2);
      expect(sessions.filter((s) => s.current)).toHaveLength(1);
      await first.revokeOtherSessions();
      await expect(second.me()).rejects.toMatchObject({ code: 'unauthenticated' });
      expect((await first.me()).user.email).toBe(email);
    });
  });

  it('keeps working after a password change, which rotates the session cookie', async () => {
    const email = await verifiedUser('rotated');
    const jar = memoryCookieJar();
    const client = createClient({ baseUrl, cookieJar: jar });
    const other = createClient({ baseUrl, cookieJar: memoryCookieJar() });
    await client.login({ email, password: STRONG_PASSWORD });
    const before = jar.header();
    await client.changePassword({
      currentPassword: STRONG_PASSWORD,
      newPassword: 'lantern orchard quietly marble fjord',
    });
    expect(jar.header()).not.toBe(before);
    await other.login({ email, password: 'lantern orchard quietly marble fjord' });
    // The next change needs the new session's CSRF token: the client reads it by itself.
    await client.revokeOtherSessions();
    await expect(other.me()).rejects.toMatchObject({ code: 'unauthenticated' });
    expect((await client.me()).user.email).toBe(email);
  });

  it('updateMe renames the user in cookie and token mode, and reports a refused name', async () => {
    const email = await verifiedUser('update-me');
    // Cookie mode on a fresh page: the client fetches the CSRF token by itself first.
    const jar = memoryCookieJar();
    await createClient({ baseUrl, cookieJar: jar }).login({ email, password: STRONG_PASSWORD });
    const cookie = createClient({ baseUrl, cookieJar: jar });
    const renamed = await cookie.updateMe({ name: ' Ada King ' });
    expect(renamed).toMatchObject({ email, name: 'Ada King' });
    expect((await cookie.me()).user).toEqual(renamed);

    const token = createClient({ baseUrl, mode: 'token', tokenStore: memoryTokenStore() });
    await token.login({ email, password: STRONG_PASSWORD });
    expect(await token.updateMe({ name: 'Countess' })).toMatchObject({ name: 'Countess' });
    expect((await cookie.me()).user.name).toBe('Countess');

    const refused = (await token.updateMe({ name: ' ' }).catch((e: unknown) => e)) as LatchkeyError;
    expect(refused).toBeInstanceOf(LatchkeyError);
    expect(refused).toMatchObject({ status: 400, code: 'validation_failed' });
    expect(refused.fieldErrors.map((f) => f.field)).toEqual(['name']);
    await expect(createClient({ baseUrl }).updateMe({ name: 'Nobody' })).rejects.toMatchObject({
      status: 401,
      code: 'unauthenticated',
    });
  });

  describe('typed errors', () => {
    it('carry the status, the problem code and per-field errors', async () => {
      const client = createClient({ baseUrl });
      const wrong = (await client
        .login({ email: uniqueEmail('nobody'), password: STRONG_PASSWORD })
        .catch((e: unknown) => e)) as LatchkeyError;
      expect(wrong).toBeInstanceOf(LatchkeyError);
      expect(wrong).toMatchObject({ status: 401, code: 'invalid_credentials' });
      expect(wrong.problem?.requestId).toEqual(expect.any(String));

      const weak = (await client
        .register({ email: uniqueEmail('weak'), password: 'password' })
        .catch((e: unknown) => e)) as LatchkeyError;
      expect(weak).toMatchObject({ status: 400, code: 'weak_password' });
      expect(weak.fieldErrors.map((f) => f.field)).toEqual(['password']);

      const offline = createClient({ baseUrl: 'http://127.0.0.1:9' });
      await expect(offline.me()).rejects.toMatchObject({ status: 0, code: 'network_error' });
    });
  });

  describe('token mode', () => {
    it('signs in with a token pair, uses it as bearer, and lists the token session', async () => {
      const email = await verifiedUser('token');
      const client = createClient({ baseUrl, mode: 'token' });
      const { user } = signedIn(await client.login({ email, password: STRONG_PASSWORD }));
      expect(user.email).toBe(email);
      const me = await client.me();
      expect(me).toEqual({
        user,
        csrfToken: null,
        amr: ['pwd'],
        authenticatedAt: expect.any(String),
      });
      const pair = await client.currentTokens();
      expect(pair).toMatchObject({ tokenType: 'Bearer', expiresIn: 600 });
      // The pair is a server-side session like a cookie sign-in.
      const { sessions } = await client.listSessions();
      expect(sessions).toHaveLength(1);
      expect(sessions[0]?.current).toBe(true);
      const { keys } = await client.jwks();
      expect(keys.length).toBeGreaterThan(0);
    });

    it('refreshes once for 20 requests failing together, and retries each once', async () => {
      const email = await verifiedUser('single-flight');
      const counter = countingFetch();
      const client = createClient({ baseUrl, mode: 'token', fetch: counter.fetch });
      await client.login({ email, password: STRONG_PASSWORD });
      const before = await client.currentTokens();
      counter.calls.length = 0;

      t.clock.advance(700); // the access token has expired (10 min + leeway); the refresh token has not
      const results = await Promise.all(Array.from({ length: 20 }, () => client.me()));
      expect(results.every((r) => r.user.email === email)).toBe(true);
      expect(counter.count('POST /auth/refresh')).toBe(1);
      expect(counter.count('GET /auth/me')).toBe(40); // each request: the 401, then one retry
      const after = await client.currentTokens();
      expect(after?.refreshToken).not.toBe(before?.refreshToken);
    });

    it('gives up after one refresh when the session is over, and says so once', async () => {
      const email = await verifiedUser('expired');
      const counter = countingFetch();
      let expired = 0;
      const client = createClient({
        baseUrl,
        mode: 'token',
        fetch: counter.fetch,
        onSessionExpired: () => expired++,
      });
      await client.login({ email, password: STRONG_PASSWORD });
      const { sessions } = await client.listSessions();
      // Signed out elsewhere ("sign out everywhere", a reset, an admin).
      const other = createClient({ baseUrl, cookieJar: memoryCookieJar() });
      await other.login({ email, password: STRONG_PASSWORD });
      await other.revokeSession(sessions[0]?.id as string);
      counter.calls.length = 0;

      const results = await Promise.allSettled(Array.from({ length: 5 }, () => client.me()));
      for (const result of results) {
        expect(result.status).toBe('rejected');
        expect((result as PromiseRejectedResult).reason).toMatchObject({
          status: 401,
          code: 'unauthenticated',
        });
      }
      expect(counter.count('POST /auth/refresh')).toBe(1);
      expect(counter.count('GET /auth/me')).toBe(5); // no retry without a new token
      expect(expired).toBe(1);
      expect(await client.currentTokens()).toBeUndefined();
    });

    it('signs out by revoking the refresh family; a stored pair can be handed in', async () => {
      const email = await verifiedUser('revoke');
      const store = memoryTokenStore();
      const client = createClient({ baseUrl, mode: 'token', tokenStore: store });
      await client.login({ email, password: STRONG_PASSWORD });
      const pair = await client.currentTokens();
      // Another client (say, after an app restart) starts from the stored pair.
      const restarted = createClient({
        baseUrl,
        mode: 'token',
        tokenStore: memoryTokenStore(pair),
      });
      expect((await restarted.me()).user.email).toBe(email);
      await client.logout();
      expect(await client.currentTokens()).toBeUndefined();
      await expect(restarted.refresh()).rejects.toMatchObject({ code: 'invalid_refresh_token' });
      await expect(restarted.me()).rejects.toMatchObject({ status: 401 });
    });
  });
});
