import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueEmail } from '../support/account.js';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';

/**
 * Every statement of a login or a sign-up costs CPU on the cores the password hashes need (the
 * embedded database runs on the event loop): these flows keep to three. Counted on PGlite, whose
 * throttle lives in memory, so that only the flows' own statements show.
 */
describe('statements per login and per sign-up', () => {
  let t: TestApp;
  const seen: string[] = [];
  let counting = false;
  const query = pg.Client.prototype.query;
  beforeAll(async () => {
    t = await createTestApp('pglite', { REQUIRE_EMAIL_VERIFICATION: 'false' });
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const [text] = args as [string | { text?: string }];
      if (counting) seen.push(typeof text === 'string' ? text : String(text.text));
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
  });
  afterAll(async () => {
    pg.Client.prototype.query = query;
    await t.close();
  });

  async function statementsOf(request: () => Promise<{ statusCode: number }>, status: number) {
    seen.length = 0;
    counting = true;
    try {
      expect((await request()).statusCode).toBe(status);
    } finally {
      counting = false;
    }
    return [...seen];
  }
  const register = (email: string) =>
    t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email, password: STRONG_PASSWORD },
    });

  it('signs up in three: the address, the user with everything it writes, the session', async () => {
    const statements = await statementsOf(() => register(uniqueEmail('count')), 201);
    expect(statements).toHaveLength(3);
    expect(statements.some((s) => /^\s*(begin|commit)/i.test(s))).toBe(false);
  });

  it('signs in in three: the user with its pending sign-ups, the factors, the session', async () => {
    const email = uniqueEmail('count');
    expect((await register(email)).statusCode).toBe(201); // unconfirmed: its link is pending
    const statements = await statementsOf(
      () =>
        t.app.inject({
          method: 'POST',
          url: '/auth/login',
          payload: { email, password: STRONG_PASSWORD },
        }),
      200,
    );
    expect(statements).toHaveLength(3);
  });
});
