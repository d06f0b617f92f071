import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifiedUser } from '../support/account.js';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';

/**
 * During a login storm, clients give up (timeouts, closed tabs) while their requests still wait
 * for a hashing thread. Those hashes are dropped instead of taking a core from the requests
 * whose clients still wait.
 *
 * One hashing thread, kept busy by hashes started here: the logins surely wait in the queue. The
 * tests never wait for those hashes to finish (the hashing threads run at the lowest priority and
 * may crawl while other suites run); closing the app ends them.
 */
const ONE_THREAD = { HASH_CONCURRENCY: '1' };
const blockers = (t: TestApp, count: number) =>
  Array.from({ length: count }, (_, i) =>
    t.hasher.hash(`blocker ${i}`).catch((error: unknown) => error),
  );

async function listening(t: TestApp) {
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
}

/** Records the outcome of every password check the logins ask the hasher for. */
function watchVerifications(t: TestApp) {
  const outcomes: Promise<unknown>[] = [];
  const verify = t.hasher.verify.bind(t.hasher);
  t.hasher.verify = (...args) => {
    const result = verify(...args);
    outcomes.push(result.catch((error: unknown) => error));
    return result;
  };
  return outcomes;
}

const until = async (condition: () => boolean) => {
  for (let i = 0; i < 2000 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(condition()).toBe(true);
};

function loginFetch(base: string, email: string, signal: AbortSignal) {
  return fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: STRONG_PASSWORD }),
    signal,
  }).catch((error: Error) => error);
}

describe.each(backends)('requests abandoned while their hash waits, on %s', (backend) => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await createTestApp(backend, ONE_THREAD);
    base = await listening(t);
  });
  afterAll(() => t.close());

  it('drops the queued password check of a login whose client hung up', async () => {
    const { email } = await verifiedUser(t, 'abandon');
    const verifications = watchVerifications(t);
    blockers(t, 10);
    const client = new AbortController();
    const login = loginFetch(base, email, client.signal);
    await until(() => verifications.length === 1); // the login waits behind the blockers
    client.abort();
    expect(await login).toMatchObject({ name: 'AbortError' });
    // Dropped from the queue, never computed.
    expect(await verifications[0]).toMatchObject({ code: 'client_closed_request' });
    expect(t.logs()).not.toMatch(/"level":50/);
  });
});

describe.each(backends)('stopping while abandoned logins still hash, on %s', (backend) => {
  it('stops without logging an error', async () => {
    const t = await createTestApp(backend, ONE_THREAD);
    let outcomes: Promise<unknown>[] = [];
    try {
      const { email } = await verifiedUser(t, 'stop');
      const base = await listening(t);
      const verifications = watchVerifications(t);
      const started = blockers(t, 10);
      const client = new AbortController();
      const logins = Array.from({ length: 4 }, () => loginFetch(base, email, client.signal));
      await until(() => verifications.length === 4);
      outcomes = [...started, ...verifications];
      client.abort(); // as a load generator or a proxy does when it stops
      await Promise.all(logins);
    } finally {
      await t.close();
    }
    // What still ran or waited ended with an answer a client could act on, not a 500.
    for (const outcome of await Promise.all(outcomes)) {
      if (outcome instanceof Error) {
        expect(outcome).toMatchObject({
          code: expect.stringMatching(/^(shutting_down|client_closed_request)$/),
        });
      }
    }
    // Neither the hashes cut short nor the session channel closing is an error to report.
    expect(t.logs()).not.toMatch(/"level":50/);
  });
});
