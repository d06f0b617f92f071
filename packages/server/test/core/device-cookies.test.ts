import { describe, expect, it } from 'vitest';
import { DEVICE_COOKIE_MAX_AGE_SECONDS, DeviceCookies } from '../../src/core/device-cookies.js';
import { deriveEncryptionKeys } from '../../src/core/keys.js';
import { TestClock } from '../support/app.js';

const SECRET = 'a-test-secret-of-at-least-thirty-two-chars';

describe('device cookies (HMAC with a key derived from KEY_ENCRYPTION_SECRET)', () => {
  const clock = new TestClock();
  const cookies = new DeviceCookies({
    key: deriveEncryptionKeys(SECRET).deviceCookies,
    clock: clock.now,
  });

  it('names a device of the account it was issued for, also after a restart (same secret)', () => {
    const token = cookies.issue('Ada@Example.com');
    expect(token).not.toContain('ada');
    const device = cookies.deviceFor(token, 'ada@example.com ');
    expect(device).toMatch(/^[\w-]{16,}$/);
    const restarted = new DeviceCookies({
      key: deriveEncryptionKeys(SECRET).deviceCookies,
      clock: clock.now,
    });
    expect(restarted.deviceFor(token, 'ada@example.com')).toBe(device);
    // Every sign-in makes a new device id.
    expect(cookies.deviceFor(cookies.issue('ada@example.com'), 'ada@example.com')).not.toBe(device);
  });

  it('refuses another account, another key, a changed byte, garbage and an expired cookie', () => {
    const token = cookies.issue('ada@example.com');
    expect(cookies.deviceFor(token, 'bob@example.com')).toBeNull();
    const other = new DeviceCookies({
      key: deriveEncryptionKeys(`${SECRET}!`).deviceCookies,
      clock: clock.now,
    });
    expect(other.deviceFor(token, 'ada@example.com')).toBeNull();
    const parts = token.split('.');
    for (let i = 0; i < parts.length; i++) {
      const changed = [...parts];
      const part = changed[i] as string;
      changed[i] = `${part.slice(0, -1)}${part.endsWith('A') ? 'B' : 'A'}`;
      expect(cookies.deviceFor(changed.join('.'), 'ada@example.com')).toBeNull();
    }
    for (const garbage of [undefined, '', 'v1', 'v1...', 'x'.repeat(5000), `${token}.extra`]) {
      expect(cookies.deviceFor(garbage, 'ada@example.com')).toBeNull();
    }
    clock.advance(DEVICE_COOKIE_MAX_AGE_SECONDS - 60);
    expect(cookies.deviceFor(token, 'ada@example.com')).not.toBeNull();
    clock.advance(120);
    expect(cookies.deviceFor(token, 'ada@example.com')).toBeNull();
  });

  it('uses a key of its own purpose', () => {
    const keys = deriveEncryptionKeys(SECRET);
    expect(keys.deviceCookies).toHaveLength(32);
    expect(keys.deviceCookies.equals(keys.signingKeys)).toBe(false);
    expect(keys.deviceCookies.equals(keys.refreshSuccessors)).toBe(false);
  });
});
