import { describe, expect, it } from 'vitest';
import { isOwnPage, isSafeNext, safeNext } from '../src/safe-next.js';

const ORIGIN = 'https://auth.example.com';

/** Values an attacker puts in ?next= to send a fresh sign-in elsewhere. */
const ATTACKS = [
  '',
  '//evil.com',
  '///evil.com',
  '/\\evil.com',
  '/\\/evil.com',
  '\\\\evil.com',
  '\\/evil.com',
  '/%5Cevil.com',
  '/%2F/evil.com',
  '/%2f%2fevil.com',
  '/%5c%5cevil.com',
  'https://evil.com',
  'http:/evil.com',
  'javascript:alert(1)',
  'JaVaScRiPt:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  'evil.com',
  ' /account',
  '/\t/evil.com',
  '/\n/evil.com',
  '/\r\n/evil.com',
  '\t//evil.com',
  '/account\u0000',
  '/account\u007f',
  '/account\\..\\..\\evil',
  '/%',
  'account',
  '?next=//evil.com',
  '#//evil.com',
];

const GOOD = ['/', '/account', '/admin?tab=users', '/admin?q=a%2Fb', '/account#sessions'];

describe('the next check', () => {
  it.each(ATTACKS)('refuses %j', (value) => {
    expect(isSafeNext(value, ORIGIN)).toBe(false);
    expect(safeNext(value, ORIGIN)).toBe('/account');
  });

  it.each(GOOD)('keeps %j', (value) => {
    expect(isSafeNext(value, ORIGIN)).toBe(true);
    expect(safeNext(value, ORIGIN)).toBe(value);
  });

  it('falls back to the account page without a value', () => {
    expect(safeNext(null, ORIGIN)).toBe('/account');
    expect(safeNext(undefined, ORIGIN)).toBe('/account');
  });
});

describe('isOwnPage', () => {
  it('tells these pages from the app that shares their origin', () => {
    expect(isOwnPage('/account', ORIGIN)).toBe(true);
    expect(isOwnPage('/admin?tab=users', ORIGIN)).toBe(true);
    expect(isOwnPage('/dashboard', ORIGIN)).toBe(false);
    expect(isOwnPage('/dashboard/admin?x=1', ORIGIN)).toBe(false);
  });
});
