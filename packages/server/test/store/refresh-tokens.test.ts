import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/core/tokens.js';
import {
  exchangeRefreshToken,
  findRefreshTokenByHash,
  type Exchange,
} from '../../src/store/refresh-tokens.js';
import { revokeSession } from '../../src/store/sessions.js';
import { uuidv7 } from '../../src/store/ids.js';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { verifiedUser } from '../support/account.js';
import { backends } from '../support/db.js';

// The exchange's one statement decides on its own what may be claimed, and races: what it does
// when another exchange, a revocation or the expiry got there first.
describe.each(backends)('exchangeRefreshToken on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend);
  });
  afterAll(() => t.close());

  async function freshToken(label: string) {
    const { email } = await verifiedUser(t, label);
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/token',
      payload: { email, password: STRONG_PASSWORD },
    });
    const { refreshToken } = res.json() as { refreshToken: string };
    const row = await findRefreshTokenByHash(t.database.db, hashToken(refreshToken));
    if (!row) throw new Error('token not found');
    return row;
  }

  const exchange = (tokenHash: string, idleSeconds = 3600): Exchange => {
    const now = t.clock.now();
    return {
      tokenHash,
      now,
      successor: {
        id: uuidv7(),
        tokenHash: hashToken(`successor-${Math.random()}`),
        idleExpiresAt: new Date(now.getTime() + idleSeconds * 1000),
      },
    };
  };

  const familyOf = (sessionId: string) =>
    t.database.db
      .selectFrom('refresh_tokens')
      .selectAll()
      .where('session_id', '=', sessionId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();

  it('claims the token and inserts its successor', async () => {
    const token = await freshToken('exchange-claim');
    const e = exchange(token.token_hash);
    expect(await exchangeRefreshToken(t.database.db, e)).toEqual({
      id: token.id,
      family_id: token.family_id,
      session_id: token.session_id,
      user_id: token.user_id,
    });
    const family = await familyOf(token.session_id);
    expect(family.map((r) => r.id)).toEqual([token.id, e.successor.id]);
    expect(family[0]).toMatchObject({ used_at: e.now, successor_id: e.successor.id });
    expect(family[1]).toMatchObject({
      parent_id: token.id,
      family_id: token.family_id,
      session_id: token.session_id,
      user_id: token.user_id,
      token_hash: e.successor.tokenHash,
      created_at: e.now,
      expires_at: e.successor.idleExpiresAt,
      used_at: null,
    });
  });

  it('exchanges once: the second exchange of the same token claims nothing', async () => {
    const token = await freshToken('exchange-twice');
    const first = exchange(token.token_hash);
    expect(await exchangeRefreshToken(t.database.db, first)).toBeDefined();
    expect(await exchangeRefreshToken(t.database.db, exchange(token.token_hash))).toBeUndefined();
    const family = await familyOf(token.session_id);
    expect(family.map((r) => r.id)).toEqual([token.id, first.successor.id]);
  });

  it('exchanges nothing once the session was revoked, and leaves the token unused', async () => {
    const token = await freshToken('exchange-revoked');
    await revokeSession(t.database.db, token.session_id, 'logout', t.clock.now());
    expect(await exchangeRefreshToken(t.database.db, exchange(token.token_hash))).toBeUndefined();
    const family = await familyOf(token.session_id);
    expect(family).toHaveLength(1);
    expect(family[0]?.used_at).toBeNull();
  });

  it('exchanges nothing for an expired or unknown token', async () => {
    const token = await freshToken('exchange-expired');
    await t.database.db
      .updateTable('refresh_tokens')
      .set({ expires_at: t.clock.now() })
      .where('id', '=', token.id)
      .execute();
    expect(await exchangeRefreshToken(t.database.db, exchange(token.token_hash))).toBeUndefined();
    expect((await familyOf(token.session_id))[0]?.used_at).toBeNull();
    expect(await exchangeRefreshToken(t.database.db, exchange(hashToken('nope')))).toBeUndefined();
  });

  it("never lets the successor outlive the session's absolute expiry", async () => {
    const token = await freshToken('exchange-absolute');
    const session = await t.database.db
      .selectFrom('sessions')
      .select('absolute_expires_at')
      .where('id', '=', token.session_id)
      .executeTakeFirstOrThrow();
    const e = exchange(token.token_hash, 400 * 86400);
    expect(await exchangeRefreshToken(t.database.db, e)).toBeDefined();
    const [, successor] = await familyOf(token.session_id);
    expect(successor?.expires_at).toEqual(session.absolute_expires_at);
  });
});
