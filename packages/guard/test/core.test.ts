import { describe, expect, it } from 'vitest';
import {
  hasPermission,
  hasRole,
  hasSecondFactor,
  type LatchkeyUser,
  refusal,
  sessionCookie,
  userFromMe,
} from '../src/index.js';

const user = (roles: string[], amr: string[] = ['pwd']): LatchkeyUser => ({
  id: 'u',
  roles,
  amr,
  sessionId: null,
  via: 'bearer',
});

describe('guard helpers', () => {
  it('forwards only Latchkey’s session cookie, never the app’s others', () => {
    expect(sessionCookie('theme=dark; latchkey_session=abc; other=1')).toBe('latchkey_session=abc');
    expect(sessionCookie('__Host-latchkey_session=xyz')).toBe('__Host-latchkey_session=xyz');
    // COOKIE_DOMAIN on https: a `__Host-` cookie may not carry a Domain.
    expect(sessionCookie('a=1; __Secure-latchkey_session=d')).toBe('__Secure-latchkey_session=d');
    expect(sessionCookie('xlatchkey_session=abc; theme=dark')).toBeUndefined();
    expect(sessionCookie(undefined)).toBeUndefined();
  });

  it('grants roles and permissions; admin has every permission', () => {
    const map = { support: ['tickets:read'], editor: ['posts:write', 'posts:read'] };
    expect(hasRole(user(['support']), ['admin', 'support'])).toBe(true);
    expect(hasRole(user([]), ['admin'])).toBe(false);
    expect(hasRole(null, ['admin'])).toBe(false);
    expect(hasPermission(user(['support']), ['tickets:read'], map)).toBe(true);
    expect(hasPermission(user(['support']), ['tickets:read', 'posts:read'], map)).toBe(false);
    expect(hasPermission(user(['support', 'editor']), ['tickets:read', 'posts:read'], map)).toBe(
      true,
    );
    expect(hasPermission(user(['admin']), ['anything'])).toBe(true);
    expect(hasPermission(undefined, ['tickets:read'], map)).toBe(false);
  });

  it('maps each refusal to a status, a code and headers', () => {
    expect(refusal({ kind: 'user', user: user([]) })).toBeUndefined();
    expect(refusal({ kind: 'anonymous' })).toMatchObject({
      problem: { status: 401, code: 'unauthenticated' },
      headers: { 'www-authenticate': 'Bearer' },
    });
    expect(refusal({ kind: 'invalid_token' })?.headers['www-authenticate']).toBe(
      'Bearer error="invalid_token"',
    );
    expect(refusal({ kind: 'csrf_failed', user: user([]) })?.problem.code).toBe('csrf_failed');
    expect(refusal({ kind: 'unavailable' })).toMatchObject({
      problem: { status: 503, code: 'auth_unavailable' },
      headers: { 'retry-after': '5' },
    });
  });

  it('counts a second factor as two kinds of factor (RFC 8176), or `mfa`', () => {
    expect(hasSecondFactor(user([], ['pwd', 'otp']))).toBe(true);
    expect(hasSecondFactor(user([], ['pwd', 'hwk']))).toBe(true);
    expect(hasSecondFactor(user([], ['swk', 'pwd']))).toBe(true);
    expect(hasSecondFactor(user([], ['mfa']))).toBe(true);
    expect(hasSecondFactor(user([], ['hwk', 'face']))).toBe(true);
    expect(hasSecondFactor(user([], ['pwd']))).toBe(false);
    expect(hasSecondFactor(user([], ['pwd', 'pin']))).toBe(false); // both knowledge
    expect(hasSecondFactor(user([], ['hwk', 'user']))).toBe(false); // presence is no factor
    expect(hasSecondFactor(user([], []))).toBe(false);
    expect(hasSecondFactor(null)).toBe(false);
  });

  it('reads the user, amr and authentication time of a GET /auth/me answer', () => {
    const me = {
      user: {
        id: 'u1',
        email: 'a@example.com',
        name: 'Ada',
        emailVerified: true,
        roles: ['admin'],
      },
      csrfToken: 'c',
      amr: ['pwd', 'otp'],
      authenticatedAt: '2026-01-01T00:00:00.000Z',
    };
    expect(userFromMe(me)).toEqual({
      id: 'u1',
      email: 'a@example.com',
      name: 'Ada',
      emailVerified: true,
      roles: ['admin'],
      amr: ['pwd', 'otp'],
      authenticatedAt: '2026-01-01T00:00:00.000Z',
      csrfToken: 'c',
      sessionId: null,
      via: 'cookie',
    });
    // A service that does not name the methods yet: no second factor is assumed.
    expect(userFromMe({ user: { id: 'u2', roles: [] }, csrfToken: 'c' })?.amr).toEqual([]);
    expect(userFromMe({ user: { roles: [] } })).toBeUndefined();
    expect(userFromMe('nonsense')).toBeUndefined();
  });
});
