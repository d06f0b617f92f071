import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT_TEST_ENV, login, meStatus, tokenPair, verifiedUser } from '../support/account.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { purgeRefreshTokensOfEndedSessions } from '../../src/store/refresh-tokens.js';
import { purgeEndedSessions } from '../../src/store/sessions.js';
import { backends } from '../support/db.js';

const DAY = 86_400;

describe.each(backends)('ended sessions are deleted after SESSION_RETENTION on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend, {
      ...ACCOUNT_TEST_ENV,
      SESSION_IDLE_TIMEOUT: '7d',
      SESSION_ABSOLUTE_TIMEOUT: '30d',
      SESSION_RETENTION: '3d',
    });
  });
  afterAll(() => t.close());

  const refresh = (refreshToken: string) =>
    t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } });
  const sessionIdsOf = async (userId: string) =>
    (
      await t.database.db
        .selectFrom('sessions')
        .select('id')
        .where('user_id', '=', userId)
        .orderBy('created_at')
        .execute()
    ).map((r) => r.id);
  const tokenRowsOf = (userId: string) =>
    t.database.db.selectFrom('refresh_tokens').select('id').where('user_id', '=', userId).execute();

  it('deletes signed-out and expired sessions with their refresh tokens, keeps live and recently ended ones', async () => {
    const { email, id: userId } = await verifiedUser(t, 'retention');
    // Verifying the address signed in too: that session is left alone, like `idle` below.
    const k = (await sessionIdsOf(userId)).length;

    // Ends by sign-out today.
    const signedOut = await login(t, email);
    await t.app.inject({ method: 'POST', url: '/auth/logout', headers: signedOut.headers });
    // A token session refreshed a few times, then revoked: its used tokens go with it.
    let pair = await tokenPair(t, email);
    for (let i = 0; i < 3; i++) {
      t.clock.advance(60);
      const res = await refresh(pair.refreshToken);
      expect(res.statusCode).toBe(200);
      pair = res.json() as typeof pair;
    }
    const revoked = await t.app.inject({
      method: 'POST',
      url: '/auth/revoke',
      payload: { refreshToken: pair.refreshToken },
    });
    expect(revoked.statusCode).toBe(204);
    // Left alone: it ends by inactivity 7 days from now.
    const idle = await login(t, email);
    // Kept alive by a request every few days.
    const live = await login(t, email);
    expect(await tokenRowsOf(userId)).toHaveLength(4);
    expect(await sessionIdsOf(userId)).toHaveLength(4 + k);

    // Two days on: the ended sessions are within retention, nothing goes.
    t.clock.advance(2 * DAY);
    expect(await meStatus(t, live)).toBe(200);
    expect((await t.retention.runOnce()).sessions).toBe(0);
    expect(await sessionIdsOf(userId)).toHaveLength(4 + k);

    // Four days after they ended: the signed-out and revoked sessions go, with the tokens.
    t.clock.advance(2 * DAY);
    expect(await meStatus(t, live)).toBe(200);
    expect(await t.retention.runOnce()).toMatchObject({ sessions: 2, refreshTokens: 4 });
    expect(await sessionIdsOf(userId)).toHaveLength(2 + k);
    expect(await tokenRowsOf(userId)).toHaveLength(0);
    if (backend === 'pglite') {
      // PGlite runs no autovacuum: the purge vacuums what it deleted from, so the space is reused.
      const { rows } = await sql<{ relname: string; last_vacuum: Date | null }>`
        select relname, last_vacuum from pg_stat_user_tables
        where relname in ('sessions', 'refresh_tokens') order by relname`.execute(t.database.db);
      expect(rows.map((r) => [r.relname, r.last_vacuum !== null])).toEqual([
        ['refresh_tokens', true],
        ['sessions', true],
      ]);
    }
    // A token of a deleted session is refused like any unknown one, not as an error.
    const stale = await refresh(pair.refreshToken);
    expect(stale.statusCode).toBe(401);
    expect(stale.json()).toMatchObject({ code: 'invalid_refresh_token' });

    // The idle session ended 7 days after its last use; 3 days later it goes too.
    t.clock.advance(4 * DAY);
    expect(await meStatus(t, live)).toBe(200);
    expect(await meStatus(t, idle)).toBe(401);
    expect((await t.retention.runOnce()).sessions).toBe(0); // ended 1 day ago
    t.clock.advance(3 * DAY);
    expect(await meStatus(t, live)).toBe(200);
    expect((await t.retention.runOnce()).sessions).toBe(1 + k);
    expect(await sessionIdsOf(userId)).toHaveLength(1);
    expect(await meStatus(t, live)).toBe(200);

    // The live one ends at its absolute limit (30 days after sign-in), and goes 3 days later.
    for (let day = 11; day < 26; day += 5) {
      t.clock.advance(5 * DAY);
      expect(await meStatus(t, live)).toBe(200);
    }
    t.clock.advance(5 * DAY);
    expect(await meStatus(t, live)).toBe(401);
    expect((await t.retention.runOnce()).sessions).toBe(0);
    t.clock.advance(3 * DAY);
    expect((await t.retention.runOnce()).sessions).toBe(1);
    expect(await sessionIdsOf(userId)).toHaveLength(0);
  });

  it('deletes in batches, however many sessions and refresh tokens ended', async () => {
    const { email, id: userId } = await verifiedUser(t, 'retention-many');
    const k = (await sessionIdsOf(userId)).length;
    for (let i = 0; i < 7; i++) {
      const device = await login(t, email);
      await t.app.inject({ method: 'POST', url: '/auth/logout', headers: device.headers });
    }
    let pair = await tokenPair(t, email);
    for (let i = 0; i < 6; i++) {
      t.clock.advance(60);
      pair = (await refresh(pair.refreshToken)).json() as typeof pair;
    }
    await t.app.inject({
      method: 'POST',
      url: '/auth/revoke',
      payload: { refreshToken: pair.refreshToken },
    });
    t.clock.advance(4 * DAY);
    const cutoff = new Date(t.clock.now().getTime() - 3 * DAY * 1000);
    expect(await purgeRefreshTokensOfEndedSessions(t.database.db, cutoff, 3)).toBe(7);
    expect(await tokenRowsOf(userId)).toHaveLength(0);
    expect(await purgeEndedSessions(t.database.db, cutoff, 3)).toBe(8);
    expect(await sessionIdsOf(userId)).toHaveLength(k); // the live one from verifying
  });
});
