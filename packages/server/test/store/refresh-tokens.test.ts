import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/core/tokens.js';
import {
  findRefreshTokenWithSession,
  rotateRefreshToken,
  type Rotation,
} from '../../src/store/refresh-tokens.js';
import { revokeSession } from '../../src/store/sessions.js';
import { uuidv7 } from '../../src/store/ids.js';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { verifiedUser } from '../support/account.js';
import { backends } from '../support/db.js';

// The exchange's one statement decides races on its own: what it does when another exchange or
// a revocation got there between the refresh's read and its write.
describe.each(backends)('rotateRefreshToken on %s', (backend) => {
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
    const read = await findRefreshTokenWithSession(t.database.db, hashToken(refreshToken));
    if (!read) throw new Error('token not found');
    return read;
  }

  const rotation = (token: { id: string; session_id: string }, touch = true): Rotation => {
    const now = t.clock.now();
    return {
      parentId: token.id,
      sessionId: token.session_id,
      usedAt: now,
      successor: {
        id: uuidv7(),
        tokenHash: hashToken(`successor-${Math.random()}`),
        expiresAt: new Date(now.getTime() + 3600_000),
        sealed: 'v1.sealed',
      },
      touch: touch ? { lastSeenAt: now, idleExpiresAt: new Date(now.getTime() + 7200_000) } : null,
    };
  };

  const familyOf = (familyId: string) =>
    t.database.db
      .selectFrom('refresh_tokens')
      .selectAll()
      .where('family_id', '=', familyId)
      .orderBy('created_at')
      .execute();

  it('reads the token with its session, user and roles in one lookup', async () => {
    const { token, found } = await freshToken('rotate-read');
    expect(found.session.id).toBe(token.session_id);
    expect(found.user.id).toBe(token.user_id);
    expect(found.user.roles).toEqual(expect.any(Array));
    expect(token.used_at).toBeNull();
  });

  it('exchanges once: the second exchange of the same token claims nothing', async () => {
    const { token } = await freshToken('rotate-twice');
    const first = rotation(token);
    expect(await rotateRefreshToken(t.database.db, first)).toBe(true);
    expect(await rotateRefreshToken(t.database.db, rotation(token))).toBe(false);
    const family = await familyOf(token.family_id);
    expect(family.map((r) => r.id)).toEqual([token.id, first.successor.id]);
    expect(family[0]).toMatchObject({
      successor_id: first.successor.id,
      successor_sealed: 'v1.sealed',
    });
    expect(family[1]).toMatchObject({ parent_id: token.id, session_id: token.session_id });
  });

  it('exchanges nothing once the session was revoked after the read', async () => {
    const { token } = await freshToken('rotate-revoked');
    await revokeSession(t.database.db, token.session_id, 'logout', t.clock.now());
    expect(await rotateRefreshToken(t.database.db, rotation(token))).toBe(false);
    const family = await familyOf(token.family_id);
    expect(family).toHaveLength(1);
    expect(family[0]?.used_at).toBeNull();
  });

  it('slides the session only when asked', async () => {
    const { token, found } = await freshToken('rotate-touch');
    t.clock.advance(120);
    expect(await rotateRefreshToken(t.database.db, rotation(token, false))).toBe(true);
    const untouched = await t.database.db
      .selectFrom('sessions')
      .select('last_seen_at')
      .where('id', '=', token.session_id)
      .executeTakeFirstOrThrow();
    expect(untouched.last_seen_at).toEqual(found.session.last_seen_at);
    const [, successor] = await familyOf(token.family_id);
    if (!successor) throw new Error('no successor');
    const again = rotation({ id: successor.id, session_id: token.session_id });
    expect(await rotateRefreshToken(t.database.db, again)).toBe(true);
    const touched = await t.database.db
      .selectFrom('sessions')
      .select('last_seen_at')
      .where('id', '=', token.session_id)
      .executeTakeFirstOrThrow();
    expect(touched.last_seen_at).toEqual(again.usedAt);
  });
});
