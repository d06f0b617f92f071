import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/core/tokens.js';
import { revokeSession } from '../../src/store/sessions.js';
import { login, verifiedUser } from '../support/account.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';

describe.each(backends)('the session cache on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    // Set explicitly: on PostgreSQL without Redis the cache is off unless asked for (below).
    t = await createTestApp(backend, { SESSION_CACHE_TTL: '5s' });
  });
  afterAll(() => t.close());

  async function signedIn() {
    const { email } = await verifiedUser(t, 'cache');
    const { cookie } = await login(t, email);
    const sessionId = (
      await t.database.db
        .selectFrom('sessions')
        .select('id')
        .where('token_hash', '=', hashToken(cookie.split('=')[1] as string))
        .executeTakeFirstOrThrow()
    ).id;
    return { cookie, sessionId };
  }
  const me = (cookie: string) =>
    t.app.inject({ method: 'GET', url: '/auth/me', headers: { cookie } });

  it('answers repeated requests from memory, listening on the right channel', async () => {
    expect(t.abuse.channel).toBe(backend === 'pglite' ? 'in-process' : 'postgres');
    expect(t.abuse.sessionCache.active).toBe(true);
    const { cookie } = await signedIn();
    expect((await me(cookie)).statusCode).toBe(200);
    const hits = t.abuse.sessionCache.stats.hits;
    for (let i = 0; i < 5; i++) expect((await me(cookie)).statusCode).toBe(200);
    expect(t.abuse.sessionCache.stats.hits).toBe(hits + 5);
  });

  it('refuses a session the moment any code revokes it through the store', async () => {
    const { cookie, sessionId } = await signedIn();
    expect((await me(cookie)).statusCode).toBe(200);
    expect((await me(cookie)).statusCode).toBe(200);
    await revokeSession(t.database.db, sessionId, 'test', new Date());
    expect((await me(cookie)).statusCode).toBe(401);
  });

  it('keeps a session whose revocation rolled back, and does not cache it meanwhile', async () => {
    const { cookie, sessionId } = await signedIn();
    expect((await me(cookie)).statusCode).toBe(200);
    await expect(
      t.database.db.transaction().execute(async (trx) => {
        await revokeSession(trx, sessionId, 'test', new Date());
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect((await me(cookie)).statusCode).toBe(200);
  });

  it('still applies expiry to a cached session', async () => {
    const { cookie } = await signedIn();
    expect((await me(cookie)).statusCode).toBe(200);
    expect((await me(cookie)).statusCode).toBe(200);
    t.clock.advance(8 * 86_400);
    expect((await me(cookie)).statusCode).toBe(401);
  });
});

describe.each(backends)('the default session cache on %s', (backend) => {
  it('is on for the embedded database, off on PostgreSQL without Redis', async () => {
    const t = await createTestApp(backend);
    try {
      // Without Redis, a NOTIFY reaches other instances only after the logout has answered.
      expect(t.abuse.sessionCache.active).toBe(backend === 'pglite');
      expect(t.logs()).not.toContain('SESSION_CACHE_TTL is set');
    } finally {
      await t.close();
    }
  });
});
