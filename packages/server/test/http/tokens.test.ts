import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { base64url, decodeJwt, decodeProtectedHeader, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeUserSessions } from '../../src/store/sessions.js';
import { cookieFrom, createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { uniqueEmail, verifiedUser } from '../support/account.js';
import { backends } from '../support/db.js';

const ISSUER = 'http://localhost:3000';

interface Pair {
  accessToken: string;
  refreshToken: string;
  tokenType: string;
  expiresIn: number;
}

describe.each(backends)('token mode (JWT + refresh tokens) on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    // Many sign-ups from one address: the per-IP limits would (rightly) stop them.
    const env: Record<string, string> = { RATE_LIMITS: 'off' };
    t = await createTestApp(backend, env);
  });
  afterAll(() => t.close());

  const issue = (email: string, password = STRONG_PASSWORD) =>
    t.app.inject({ method: 'POST', url: '/auth/token', payload: { email, password } });
  const refresh = (refreshToken: string) =>
    t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } });
  const me = (accessToken: string) =>
    t.app.inject({
      method: 'GET',
      url: '/auth/me',
      headers: { authorization: `Bearer ${accessToken}` },
    });
  async function signIn(tag: string): Promise<{ email: string; pair: Pair }> {
    const { email } = await verifiedUser(t, tag);
    const res = await issue(email);
    expect(res.statusCode).toBe(200);
    return { email, pair: res.json() as Pair };
  }
  const sessionRow = (id: string) =>
    t.database.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const familyRows = (sessionId: string) =>
    t.database.db
      .selectFrom('refresh_tokens')
      .selectAll()
      .where('session_id', '=', sessionId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();

  it('issues an EdDSA access token and a refresh token, without a cookie, for a new session', async () => {
    const { email } = await verifiedUser(t, 'issue');
    const res = await issue(email);
    expect(res.statusCode).toBe(200);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.headers['cache-control']).toBe('no-store');
    const pair = res.json() as Pair;
    expect(pair).toEqual({
      accessToken: expect.any(String),
      refreshToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      tokenType: 'Bearer',
      expiresIn: 600,
    });
    const header = decodeProtectedHeader(pair.accessToken);
    const kid = (await t.tokens.keys.currentKey()).kid;
    expect(header).toEqual({ alg: 'EdDSA', kid, typ: 'at+jwt' });
    const claims = decodeJwt(pair.accessToken);
    const user = (await me(pair.accessToken)).json().user;
    expect(claims).toEqual({
      iss: ISSUER,
      aud: ISSUER,
      sub: user.id,
      sid: expect.any(String),
      roles: [],
      amr: ['pwd'],
      iat: expect.any(Number),
      exp: (claims.iat as number) + 600,
    });
    expect(Math.abs((claims.iat as number) - t.clock.now().getTime() / 1000)).toBeLessThan(2);

    // The pair belongs to a server-side session, listed with the user's others.
    const session = await sessionRow(claims.sid as string);
    expect(session.user_id).toBe(user.id);
    expect(session.revoked_at).toBeNull();
    // Only the hash of the refresh token is stored.
    const rows = await familyRows(session.id);
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(pair.refreshToken);
    const audit = await t.database.db
      .selectFrom('audit_events')
      .select(['type', 'data'])
      .where('user_id', '=', user.id)
      .where('type', '=', 'login.succeeded')
      .execute();
    expect(audit.map((a) => a.data)).toContainEqual({ sessionId: session.id, method: 'token' });
  });

  it('uses the login checks: one 401 for unknown email and wrong password, 403 unverified', async () => {
    const { email } = await verifiedUser(t, 'creds');
    const wrong = await issue(email, 'not the right passphrase at all');
    const unknown = await issue(uniqueEmail('ghost'));
    for (const res of [wrong, unknown]) {
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('invalid_credentials');
    }
    const unverified = uniqueEmail('unverified');
    await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email: unverified, password: STRONG_PASSWORD },
    });
    const res = await issue(unverified);
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('email_not_verified');
    const extra = await t.app.inject({
      method: 'POST',
      url: '/auth/token',
      payload: { email, password: STRONG_PASSWORD, scope: 'admin' },
    });
    expect(extra.statusCode).toBe(400);
  });

  it('accepts the bearer token on authenticated endpoints without CSRF, and refuses it once its session is revoked', async () => {
    const { email, pair } = await signIn('bearer');
    const res = await me(pair.accessToken);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      user: expect.objectContaining({ email }),
      csrfToken: null,
      amr: ['pwd'],
      authenticatedAt: expect.any(String),
    });

    // A state-changing request needs no X-CSRF-Token with a bearer token.
    const logout = await t.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { authorization: `Bearer ${pair.accessToken}` },
    });
    expect(logout.statusCode).toBe(204);
    // Latchkey itself checks the session behind `sid`: the still unexpired token is refused.
    const after = await me(pair.accessToken);
    expect(after.statusCode).toBe(401);
    expect(after.json().code).toBe('unauthenticated');
    expect(after.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    // …and so is the refresh token of that session.
    expect((await refresh(pair.refreshToken)).statusCode).toBe(401);
  });

  it('refuses a bearer token for a disabled user and a garbage bearer header', async () => {
    const { pair } = await signIn('disabled');
    const sub = decodeJwt(pair.accessToken).sub as string;
    await t.database.db
      .updateTable('users')
      .set({ disabled_at: t.clock.now() })
      .where('id', '=', sub)
      .execute();
    expect((await me(pair.accessToken)).statusCode).toBe(401);
    expect((await refresh(pair.refreshToken)).statusCode).toBe(401);
    expect((await me('not-a-jwt')).statusCode).toBe(401);
  });

  it('keeps the cookie path as it was: csrfToken is a string there', async () => {
    const { email } = await verifiedUser(t, 'cookie');
    const login = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: STRONG_PASSWORD },
    });
    const res = await t.app.inject({
      method: 'GET',
      url: '/auth/me',
      headers: { cookie: cookieFrom(login.headers['set-cookie']) },
    });
    expect(res.json().csrfToken).toEqual(login.json().csrfToken);
  });

  it('rotates the refresh token on every use', async () => {
    const { pair } = await signIn('rotate');
    t.clock.advance(5);
    const res = await refresh(pair.refreshToken);
    expect(res.statusCode).toBe(200);
    const next = res.json() as Pair;
    expect(next.refreshToken).not.toBe(pair.refreshToken);
    expect(next.accessToken).not.toBe(pair.accessToken);
    expect(decodeJwt(next.accessToken).sid).toBe(decodeJwt(pair.accessToken).sid);
    expect((await me(next.accessToken)).statusCode).toBe(200);

    const third = await refresh(next.refreshToken);
    expect(third.statusCode).toBe(200);
    const rows = await familyRows(decodeJwt(pair.accessToken).sid as string);
    expect(rows).toHaveLength(3);
    expect(new Set(rows.map((r) => r.family_id)).size).toBe(1);
    expect(rows[1]?.parent_id).toBe(rows[0]?.id);
    expect(rows[2]?.parent_id).toBe(rows[1]?.id);
    expect(rows.map((r) => r.used_at === null)).toEqual([false, false, true]);
  });

  it('answers a reuse within the grace window with the same successor pair', async () => {
    const { pair } = await signIn('grace');
    const first = await refresh(pair.refreshToken);
    t.clock.advance(9);
    const again = await refresh(pair.refreshToken);
    expect(first.statusCode).toBe(200);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first.json());
    const sid = decodeJwt(pair.accessToken).sid as string;
    expect((await sessionRow(sid)).revoked_at).toBeNull();
    // The successor is still good, exactly once more.
    expect((await refresh((first.json() as Pair).refreshToken)).statusCode).toBe(200);
  });

  it('revokes the family and its session on a reuse after the grace window, with an audit event', async () => {
    const { pair } = await signIn('reuse');
    const first = (await refresh(pair.refreshToken)).json() as Pair;
    t.clock.advance(11);
    const reuse = await refresh(pair.refreshToken);
    expect(reuse.statusCode).toBe(401);
    expect(reuse.json().code).toBe('invalid_refresh_token');

    const sid = decodeJwt(pair.accessToken).sid as string;
    const session = await sessionRow(sid);
    expect(session.revoked_at).not.toBeNull();
    expect(session.revoked_reason).toBe('refresh_token_reuse');
    const rows = await familyRows(sid);
    expect(rows.every((r) => r.revoked_at !== null)).toBe(true);
    // The thief's (or the owner's) successor is dead too, and so is its access token.
    expect((await refresh(first.refreshToken)).statusCode).toBe(401);
    expect((await me(first.accessToken)).statusCode).toBe(401);
    const audit = await t.database.db
      .selectFrom('audit_events')
      .select(['data'])
      .where('type', '=', 'refresh_token_reuse')
      .where('user_id', '=', decodeJwt(pair.accessToken).sub as string)
      .execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]?.data).toMatchObject({ sessionId: sid });
  });

  it('stores no successor pair: a retry within the grace window derives the same one again', async () => {
    const { pair } = await signIn('derive');
    const next = (await refresh(pair.refreshToken)).json() as Pair;
    const sid = decodeJwt(pair.accessToken).sid as string;
    const stored = JSON.stringify(await familyRows(sid));
    expect(stored).not.toContain(next.refreshToken);
    expect(stored).not.toContain(next.accessToken.split('.')[2]);
    t.clock.advance(10);
    const again = await refresh(pair.refreshToken);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(next);
    expect((await refresh(next.refreshToken)).statusCode).toBe(200);
  });

  it('refuses the token of an expired session every time, never as a reuse', async () => {
    const { pair } = await signIn('expired-twice');
    const sid = decodeJwt(pair.accessToken).sid as string;
    // The session slides at most once a minute: 30 s after a slide, a successor outlives the
    // session's idle expiry by 30 s, so it is still claimed at the moment the session ends.
    t.clock.advance(120);
    const slid = (await refresh(pair.refreshToken)).json() as Pair;
    t.clock.advance(30);
    const last = (await refresh(slid.refreshToken)).json() as Pair;
    t.clock.advance(7 * 86400 - 15);
    expect((await refresh(last.refreshToken)).statusCode).toBe(401);
    expect(await familyRows(sid)).toHaveLength(4); // claimed, then refused for the session
    t.clock.advance(60);
    const again = await refresh(last.refreshToken);
    expect(again.statusCode).toBe(401);
    expect(again.json().code).toBe('invalid_refresh_token');
    expect((await sessionRow(sid)).revoked_reason).toBeNull();
    const reuses = await t.database.db
      .selectFrom('audit_events')
      .select('id')
      .where('type', '=', 'refresh_token_reuse')
      .where('user_id', '=', decodeJwt(pair.accessToken).sub as string)
      .execute();
    expect(reuses).toHaveLength(0);
  });

  it('ends the refresh family with its session (logout everywhere, reset, disable)', async () => {
    const { pair } = await signIn('session-revoked');
    const sub = decodeJwt(pair.accessToken).sub as string;
    await revokeUserSessions(t.database.db, sub, 'test', t.clock.now());
    const res = await refresh(pair.refreshToken);
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('invalid_refresh_token');
  });

  it('expires a family after 7 idle days, and after 30 days however active', async () => {
    const idle = await signIn('idle');
    t.clock.advance(7 * 86400 + 1);
    expect((await refresh(idle.pair.refreshToken)).statusCode).toBe(401);

    const active = await signIn('absolute');
    let token = active.pair.refreshToken;
    for (let day = 6; day < 30; day += 6) {
      t.clock.advance(6 * 86400);
      const res = await refresh(token);
      expect(res.statusCode, `day ${day}`).toBe(200);
      token = (res.json() as Pair).refreshToken;
    }
    t.clock.advance(6 * 86400); // day 30
    expect((await refresh(token)).statusCode).toBe(401);
  });

  it('revokes a refresh token: 204, then neither it nor the access token works; unknown tokens get 204 too', async () => {
    const { pair } = await signIn('revoke');
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/revoke',
      payload: { refreshToken: pair.refreshToken },
    });
    expect(res.statusCode).toBe(204);
    expect((await refresh(pair.refreshToken)).statusCode).toBe(401);
    expect((await me(pair.accessToken)).statusCode).toBe(401);
    for (const refreshToken of [pair.refreshToken, 'A'.repeat(43), 'short']) {
      const again = await t.app.inject({
        method: 'POST',
        url: '/auth/revoke',
        payload: { refreshToken },
      });
      expect(again.statusCode).toBe(204);
    }
  });

  it('refuses unknown and malformed refresh tokens with one answer', async () => {
    for (const token of ['A'.repeat(43), 'nope']) {
      const res = await refresh(token);
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('invalid_refresh_token');
    }
  });

  it('gives concurrent refreshes of one token the same successor: one rotation, nothing revoked', async () => {
    const { pair } = await signIn('race');
    const answers = await Promise.all(Array.from({ length: 10 }, () => refresh(pair.refreshToken)));
    expect(answers.map((a) => a.statusCode)).toEqual(Array(10).fill(200));
    const bodies = answers.map((a) => a.body);
    expect(new Set(bodies).size).toBe(1);
    const sid = decodeJwt(pair.accessToken).sid as string;
    const rows = await familyRows(sid);
    // Exactly the original and one successor: no second branch of the family leaked.
    expect(rows).toHaveLength(2);
    expect(rows[1]?.parent_id).toBe(rows[0]?.id);
    expect(rows.every((r) => r.revoked_at === null)).toBe(true);
    expect((await sessionRow(sid)).revoked_at).toBeNull();
    const successor = (answers[0]?.json() as Pair).refreshToken;
    expect((await refresh(successor)).statusCode).toBe(200);
  });

  it('publishes the JWKS with cache headers and no private material', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('public, max-age=300');
    const { keys } = res.json() as { keys: JWK[] };
    const current = await t.tokens.keys.currentKey();
    expect(keys.map((k) => k.kid)).toContain(current.kid);
    for (const key of keys) {
      expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
      expect(key.d).toBeUndefined();
    }
    // The private key is encrypted at rest.
    const row = await t.database.db
      .selectFrom('signing_keys')
      .selectAll()
      .where('kid', '=', current.kid)
      .executeTakeFirstOrThrow();
    const d = (current.privateKey.export({ format: 'jwk' }) as { d: string }).d;
    expect(row.private_key_encrypted).not.toContain(d);
    expect(row.private_key_encrypted).toMatch(/^v1\./);
  });

  it('keeps tokens of a rotated key valid until they expire, then stops publishing the key', async () => {
    const { pair } = await signIn('rotation');
    const oldKid = decodeProtectedHeader(pair.accessToken).kid;
    const { kid, previousKid } = await t.tokens.keys.rotate();
    expect(previousKid).toBe(oldKid);
    expect(kid).not.toBe(oldKid);

    expect((await me(pair.accessToken)).statusCode).toBe(200);
    const next = (await refresh(pair.refreshToken)).json() as Pair;
    expect(decodeProtectedHeader(next.accessToken).kid).toBe(kid);
    const jwks = (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    expect(jwks.keys.map((k: JWK) => k.kid)).toEqual([kid, oldKid]);

    // Past the access-token lifetime and leeway the old key is gone.
    t.clock.advance(600 + 30 + 61);
    await t.tokens.keys.reload(); // instances read the table again at least once a minute
    const later = await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expect((later.json() as { keys: JWK[] }).keys.map((k) => k.kid)).toEqual([kid]);
    expect((await me(pair.accessToken)).statusCode).toBe(401); // expired anyway
  });

  it('refreshes right after the signing keys must be read again (no wait inside its transaction)', async () => {
    const { pair } = await signIn('rotation-refresh');
    // The rotation empties the key cache: the refresh is the first to read the keys again. It
    // must not do so inside its transaction, which holds the connection (PGlite has only one).
    const { kid } = await t.tokens.keys.rotate();
    const res = await Promise.race([
      refresh(pair.refreshToken),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('the refresh hung')), 5000).unref(),
      ),
    ]);
    expect(res.statusCode).toBe(200);
    expect(decodeProtectedHeader((res.json() as Pair).accessToken).kid).toBe(kid);
  });

  describe('refuses forged and broken access tokens', () => {
    let pair: Pair;
    let claims: Record<string, unknown>;
    beforeAll(async () => {
      pair = (await signIn('attacks')).pair;
      claims = decodeJwt(pair.accessToken);
    });
    const encode = (value: unknown) => base64url.encode(JSON.stringify(value));
    const expectRefused = async (token: string) => {
      const res = await me(token);
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('unauthenticated');
    };

    it('accepts the genuine token (control)', async () => {
      expect((await me(pair.accessToken)).statusCode).toBe(200);
    });

    it('alg none', async () => {
      const kid = decodeProtectedHeader(pair.accessToken).kid;
      await expectRefused(`${encode({ alg: 'none', kid, typ: 'at+jwt' })}.${encode(claims)}.`);
      await expectRefused(`${encode({ alg: 'none', typ: 'at+jwt' })}.${encode(claims)}.`);
    });

    it('HS256 signed with the public key as the HMAC secret', async () => {
      const { kid } = decodeProtectedHeader(pair.accessToken);
      const jwks = (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
      const jwk = jwks.keys.find((k: JWK) => k.kid === kid) as JWK;
      const secrets = [
        new TextEncoder().encode(JSON.stringify(jwk)),
        base64url.decode(jwk.x as string),
        new TextEncoder().encode(
          createPublicKey({ key: jwk as never, format: 'jwk' })
            .export({ format: 'pem', type: 'spki' })
            .toString(),
        ),
      ];
      for (const secret of secrets) {
        const forged = await new SignJWT({ ...claims, roles: ['admin'] })
          .setProtectedHeader({ alg: 'HS256', kid: kid as string, typ: 'at+jwt' })
          .sign(secret);
        await expectRefused(forged);
      }
    });

    it('a valid EdDSA signature by a key we do not know (unknown kid, or our kid)', async () => {
      const { privateKey } = generateKeyPairSync('ed25519');
      for (const kid of ['attacker-key', decodeProtectedHeader(pair.accessToken).kid as string]) {
        const forged = await new SignJWT(claims)
          .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt' })
          .sign(privateKey);
        await expectRefused(forged);
      }
    });

    it('a tampered payload or signature', async () => {
      const [header, , signature] = pair.accessToken.split('.');
      await expectRefused(`${header}.${encode({ ...claims, roles: ['admin'] })}.${signature}`);
      const sig = signature as string;
      const flipped = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
      await expectRefused(`${header}.${pair.accessToken.split('.')[1]}.${flipped}`);
      await expectRefused(`${pair.accessToken}x`);
    });

    it('another issuer, another audience, or another token type', async () => {
      const key = await t.tokens.keys.currentKey();
      const sign = (
        override: Record<string, unknown>,
        header: Record<string, unknown> = { typ: 'at+jwt' },
      ) =>
        new SignJWT({ ...claims, ...override })
          .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, ...header })
          .sign(key.privateKey);
      // Control: our key and our claims are accepted.
      expect((await me(await sign({}))).statusCode).toBe(200);
      await expectRefused(await sign({ iss: 'https://evil.example.com' }));
      await expectRefused(await sign({ aud: 'https://other-service.example.com' }));
      await expectRefused(await sign({}, { typ: 'JWT' }));
      await expectRefused(await sign({ sid: undefined }));
    });

    it('an expired token, past the small leeway', async () => {
      t.clock.advance(600 + 10);
      expect((await me(pair.accessToken)).statusCode).toBe(200); // within 30 s of leeway
      t.clock.advance(25);
      await expectRefused(pair.accessToken);
    });
  });
});
