import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifiedUser } from '../support/account.js';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';

/**
 * During a login storm, clients give up (timeouts, closed tabs) while their requests still wait
 * for a hashing thread. Those hashes are dropped instead of taking a core from the requests
 * whose clients still wait.
 */
describe.each(backends)('requests abandoned while their hash waits, on %s', (backend) => {
  let t: TestApp;
  let base: string;
  let hashesRun = 0;
  beforeAll(async () => {
    t = await createTestApp(backend, { HASH_CONCURRENCY: '1' });
    const metrics = t.hasher.observe;
    t.hasher.observe = (seconds) => {
      hashesRun++;
      metrics?.(seconds);
    };
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  });
  afterAll(() => t.close());

  const until = async (condition: () => boolean) => {
    for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
    expect(condition()).toBe(true);
  };

  it('drops the queued password check of a login whose client hung up', async () => {
    const { email } = await verifiedUser(t, 'abandon');
    // Keep the only hashing thread busy, with more waiting behind it.
    const blockers = Array.from({ length: 6 }, (_, i) => t.hasher.hash(`blocker ${i}`));
    const before = hashesRun;
    const client = new AbortController();
    const login = fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: STRONG_PASSWORD }),
      signal: client.signal,
    }).catch((error: Error) => error);
    await until(() => t.hasher.stats.queued === 6); // 5 blockers and the login wait
    client.abort();
    expect(await login).toMatchObject({ name: 'AbortError' });
    await until(() => t.hasher.stats.queued < 5);
    await Promise.all(blockers);
    await until(() => t.hasher.stats.active === 0);
    expect(hashesRun - before).toBe(6); // the blockers only

    // Nothing else is disturbed: the same account signs in at once, and nothing logged an error.
    const res = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: STRONG_PASSWORD }),
    });
    expect(res.status).toBe(200);
    expect(t.logs()).not.toMatch(/"level":50/);
  });
});

describe.each(backends)('stopping while abandoned logins still hash, on %s', (backend) => {
  it('stops without logging an error', async () => {
    // Slow hashes (t=20, a few hundred ms each), so that the four logins wait behind the first.
    const t = await createTestApp(backend, { HASH_CONCURRENCY: '1', ARGON2_ITERATIONS: '20' });
    try {
      const { email } = await verifiedUser(t, 'stop');
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
      const client = new AbortController();
      const logins = Array.from({ length: 4 }, () =>
        fetch(`${base}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email, password: STRONG_PASSWORD }),
          signal: client.signal,
        }).catch(() => null),
      );
      for (let i = 0; i < 2000 && t.hasher.stats.queued < 3; i++) {
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(t.hasher.stats).toEqual({ active: 1, queued: 3 });
      client.abort(); // as a load generator or a proxy does when it stops
      await Promise.all(logins);
    } finally {
      await t.close();
    }
    // Neither the hashes cut short nor the session channel closing is an error to report.
    expect(t.logs()).not.toMatch(/"level":50/);
  });
});
