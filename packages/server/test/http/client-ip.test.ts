import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rateLimitKey } from '../../src/http/plugins/rate-limit.js';
import { auditOf, uniqueEmail, verifiedUser } from '../support/account.js';
import { cookieFrom, createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';

describe('the per-IP rate-limit key', () => {
  it('is the address for IPv4, the /64 for IPv6, and IPv4 for IPv4-mapped IPv6', () => {
    expect(rateLimitKey('192.0.2.7')).toBe('192.0.2.7');
    expect(rateLimitKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(rateLimitKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(rateLimitKey('2001:0DB8:0001:0002:0:0:0:9')).toBe('2001:db8:1:2::/64');
    expect(rateLimitKey('2001:db8::')).toBe('2001:db8:0:0::/64');
    expect(rateLimitKey('::1')).toBe('0:0:0:0::/64');
    expect(rateLimitKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(rateLimitKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });
});

describe.each(backends)('the client IP behind a proxy on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend, {
      TRUST_PROXY: '1',
      RATE_LIMITS: 'on',
      RATE_LIMIT_RESEND_IP: '2/1m',
      RATE_LIMIT_RESEND_ACCOUNT: '100/1m',
    });
  });
  afterAll(() => t.close());

  const proxied = (xff: string, remoteAddress = '10.0.0.2') => ({
    remoteAddress,
    headers: { 'x-forwarded-for': xff, 'user-agent': 'vitest' },
  });

  it('takes the address the proxy saw, not what the client wrote before it', async () => {
    const { email, id } = await verifiedUser(t, 'proxied');
    const login = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: STRONG_PASSWORD },
      ...proxied('6.6.6.6, 203.0.113.9'),
    });
    expect(login.statusCode).toBe(200);
    const cookie = cookieFrom(login.headers['set-cookie']);

    const sessions = await t.app.inject({ url: '/auth/sessions', headers: { cookie } });
    expect(sessions.json().sessions).toEqual([
      expect.objectContaining({ current: true, ip: '203.0.113.9' }),
    ]);
    const { rows } = await auditOf(t, id);
    const signedIn = rows.filter((r) => r.type === 'login.succeeded');
    expect(signedIn.map((r) => r.ip)).toEqual(['203.0.113.9']);
  });

  it('counts two addresses of one IPv6 /64 in one per-IP bucket', async () => {
    const resend = (xff: string) =>
      t.app.inject({
        method: 'POST',
        url: '/auth/resend-verification',
        payload: { email: uniqueEmail('v6') },
        ...proxied(`6.6.6.6, ${xff}`),
      });
    expect((await resend('2001:db8:5:6::1')).statusCode).toBe(202);
    expect((await resend('2001:db8:5:6:ffff:1:2:3')).statusCode).toBe(202);
    expect((await resend('2001:db8:5:6::abcd')).statusCode).toBe(429);
    // The next /64 has a bucket of its own.
    expect((await resend('2001:db8:5:7::1')).statusCode).toBe(202);
    // An IPv4-mapped address counts as the IPv4 one.
    expect((await resend('::ffff:198.51.100.4')).statusCode).toBe(202);
    expect((await resend('198.51.100.4')).statusCode).toBe(202);
    expect((await resend('198.51.100.4')).statusCode).toBe(429);
  });
});
