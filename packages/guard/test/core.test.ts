import { describe, expect, it } from 'vitest';
import { hasPermission, hasRole, type LatchkeyUser, refusal, sessionCookie } from '../src/index.js';

const user = (roles: string[]): LatchkeyUser => ({
  id: 'u',
  roles,
  sessionId: null,
  via: 'bearer',
});

describe('guard helpers', () => {
  it('forwards only Latchkey’s session cookie, never the app’s others', () => {
    expect(sessionCookie('theme=dark; latchkey_session=abc; other=1')).toBe('latchkey_session=abc');
    expect(sessionCookie('__Host-latchkey_session=xyz')).toBe('__Host-latchkey_session=xyz');
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
});
