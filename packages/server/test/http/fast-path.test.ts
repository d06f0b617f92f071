import helmet from '@fastify/helmet';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helmetHeaders } from '../../src/http/plugins/security-headers.js';
import { revokeSession, revokeUserSessions } from '../../src/store/sessions.js';
import { verifiedUser } from '../support/account.js';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';

/**
 * The fast path (docs/performance.md) keeps the semantics: bearer requests answered
 * from the session cache are still refused the moment their session is revoked, and the
 * security headers computed at start are the ones @fastify/helmet sets per request.
 */
describe.each(backends)('bearer verification through the session cache on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend, { SESSION_CACHE_TTL: '5s' });
  });
  afterAll(() => t.close());

  async function tokens() {
    const { email, id: userId } = await verifiedUser(t, 'fast');
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/token',
      payload: { email, password: STRONG_PASSWORD },
    });
    expect(res.statusCode).toBe(200);
    const accessToken = res.json().accessToken as string;
    const [, payload] = accessToken.split('.');
    const sid = JSON.parse(Buffer.from(payload as string, 'base64url').toString()).sid as string;
    return { accessToken, sessionId: sid, userId };
  }
  const me = (accessToken: string) =>
    t.app.inject({
      method: 'GET',
      url: '/auth/me',
      headers: { authorization: `Bearer ${accessToken}` },
    });

  it('answers repeated bearer requests from memory', async () => {
    const { accessToken } = await tokens();
    expect((await me(accessToken)).statusCode).toBe(200);
    const hits = t.abuse.sessionCache.stats.hits;
    for (let i = 0; i < 3; i++) expect((await me(accessToken)).statusCode).toBe(200);
    expect(t.abuse.sessionCache.stats.hits).toBe(hits + 3);
  });

  it('refuses a cached access token the moment its session is revoked', async () => {
    const { accessToken, sessionId } = await tokens();
    expect((await me(accessToken)).statusCode).toBe(200);
    expect((await me(accessToken)).statusCode).toBe(200);
    await revokeSession(t.database.db, sessionId, 'test', new Date());
    expect((await me(accessToken)).statusCode).toBe(401);
  });

  it('refuses it the moment every session of the user is revoked', async () => {
    const { accessToken, userId } = await tokens();
    expect((await me(accessToken)).statusCode).toBe(200);
    expect((await me(accessToken)).statusCode).toBe(200);
    await revokeUserSessions(t.database.db, userId, 'test', new Date());
    expect((await me(accessToken)).statusCode).toBe(401);
  });

  it('still applies expiry to a cached session', async () => {
    const { accessToken } = await tokens();
    expect((await me(accessToken)).statusCode).toBe(200);
    expect((await me(accessToken)).statusCode).toBe(200);
    t.clock.advance(11 * 60); // past the access token's 10 minutes
    expect((await me(accessToken)).statusCode).toBe(401);
  });

  it('still checks the signature of a token it has not seen, though its claims are cached', async () => {
    const { accessToken } = await tokens();
    expect((await me(accessToken)).statusCode).toBe(200);
    const [header, payload, signature] = accessToken.split('.') as [string, string, string];
    const flipped = (signature.startsWith('A') ? 'B' : 'A') + signature.slice(1);
    expect((await me(`${header}.${payload}.${flipped}`)).statusCode).toBe(401);
    expect((await me(accessToken)).statusCode).toBe(200);
  });

  it('sets the API security headers on API answers, and the pages their own', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/auth/me' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-security-policy']).toBe(
      "default-src 'none';frame-ancestors 'none'",
    );
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
    expect(res.headers['cache-control']).toBe('no-store');
    // Headers that only mean something to an HTML document stay off JSON answers.
    expect(res.headers['x-dns-prefetch-control']).toBeUndefined();
    expect(res.headers['origin-agent-cluster']).toBeUndefined();

    const page = await t.app.inject({ method: 'GET', url: '/login' });
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(page.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(page.headers['cache-control']).toBe('no-store');

    const docs = await t.app.inject({ method: 'GET', url: '/docs/static/index.html' });
    expect(docs.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(docs.headers['cache-control']).not.toBe('no-store');
  });
});

describe('security headers computed at start', () => {
  const options = {
    hsts: { maxAge: 31_536_000, includeSubDomains: true },
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', 'https://cdn.example.com'],
        frameAncestors: ["'none'"],
        upgradeInsecureRequests: [],
      },
    },
  };

  it('are exactly the headers @fastify/helmet sets per request', async () => {
    const app = Fastify();
    await app.register(helmet, options);
    app.get('/', async () => ({ ok: true }));
    const res = await app.inject({ method: 'GET', url: '/' });
    await app.close();
    const expected = Object.fromEntries(
      Object.entries(res.headers).filter(
        ([name]) => !['content-type', 'content-length', 'date', 'connection'].includes(name),
      ),
    );
    expect(await helmetHeaders(options)).toEqual(expected);
  });
});
