import { describe, expect, it } from 'vitest';
import { isSessionActive, newSessionExpiry, slideIdleExpiry } from '../../src/core/sessions.js';

const DAY = 86400;
const timeouts = { idleTimeoutSeconds: 7 * DAY, absoluteTimeoutSeconds: 30 * DAY };
const at = (days: number, seconds = 0) =>
  new Date(Date.UTC(2026, 0, 1) + (days * DAY + seconds) * 1000);

describe('session expiry', () => {
  it('starts with idle and absolute expiries from the login time', () => {
    const { idleExpiresAt, absoluteExpiresAt } = newSessionExpiry(at(0), timeouts);
    expect(idleExpiresAt).toEqual(at(7));
    expect(absoluteExpiresAt).toEqual(at(30));
  });

  it('is active strictly before both expiries and never once revoked', () => {
    const s = { idleExpiresAt: at(7), absoluteExpiresAt: at(30), revokedAt: null };
    expect(isSessionActive(s, at(6, DAY - 1))).toBe(true);
    expect(isSessionActive(s, at(7))).toBe(false);
    expect(isSessionActive({ ...s, idleExpiresAt: at(40) }, at(30))).toBe(false);
    expect(isSessionActive({ ...s, revokedAt: at(1) }, at(2))).toBe(false);
  });

  it('slides the idle expiry, writing at most once a minute', () => {
    const session = { lastSeenAt: at(0), absoluteExpiresAt: at(30) };
    expect(slideIdleExpiry(session, at(0, 59), timeouts)).toBeNull();
    expect(slideIdleExpiry(session, at(0, 60), timeouts)).toEqual({
      lastSeenAt: at(0, 60),
      idleExpiresAt: at(7, 60),
    });
  });

  it('never slides past the absolute expiry', () => {
    const session = { lastSeenAt: at(25), absoluteExpiresAt: at(30) };
    expect(slideIdleExpiry(session, at(28), timeouts)?.idleExpiresAt).toEqual(at(30));
  });
});
