import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/store/ids.js';
import { generateToken, hashToken, isWellFormedToken, safeEqual } from '../../src/core/tokens.js';

describe('tokens', () => {
  it('are 32 random bytes in base64url, never repeated', () => {
    const tokens = new Set(Array.from({ length: 1000 }, generateToken));
    expect(tokens.size).toBe(1000);
    for (const token of tokens) {
      expect(Buffer.from(token, 'base64url')).toHaveLength(32);
      expect(isWellFormedToken(token)).toBe(true);
    }
  });

  it('are stored as their SHA-256, which does not contain the token', () => {
    const token = generateToken();
    expect(hashToken(token)).toBe(createHash('sha256').update(token).digest('hex'));
    expect(hashToken(token)).not.toContain(token);
    expect(hashToken(token)).not.toBe(hashToken(generateToken()));
  });

  it('refuses anything that is not a token before any lookup', () => {
    for (const bad of [
      '',
      'short',
      `${'a'.repeat(43)}=`,
      'a'.repeat(44),
      "' or 1=1 --".padEnd(43, 'x'),
    ]) {
      expect(isWellFormedToken(bad)).toBe(false);
    }
  });

  it('compares CSRF tokens exactly', () => {
    const token = generateToken();
    expect(safeEqual(token, token)).toBe(true);
    expect(safeEqual(token, `${token.slice(0, -1)}x`)).toBe(token.endsWith('x'));
    expect(safeEqual(token, token.slice(0, -1))).toBe(false);
    expect(safeEqual('', token)).toBe(false);
  });
});

describe('uuidv7', () => {
  it('has version 7, the RFC variant, and sorts by time', () => {
    const a = uuidv7(1_700_000_000_000);
    const b = uuidv7(1_700_000_000_001);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a < b).toBe(true);
    expect(Number.parseInt(a.replace(/-/g, '').slice(0, 12), 16)).toBe(1_700_000_000_000);
  });

  it('keeps creation order within one millisecond', () => {
    const ids = Array.from({ length: 5000 }, () => uuidv7(1_800_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
