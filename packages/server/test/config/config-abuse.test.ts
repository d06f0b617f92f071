import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';

describe('abuse-protection configuration', () => {
  it('has defaults for a public site', () => {
    const { abuse } = loadConfig({});
    expect(abuse.rateLimitsEnabled).toBe(true);
    expect(abuse.limits.signin).toEqual({
      ip: { max: 30, windowSeconds: 300 },
      account: { max: 10, windowSeconds: 300 },
    });
    expect(abuse.limits.forgot.account).toEqual({ max: 3, windowSeconds: 3600 });
    expect(abuse.throttle).toEqual({
      delayFrom: 5,
      baseDelayMs: 1000,
      maxDelayMs: 900_000,
      lockAfter: 100,
    });
    expect(abuse.redisUrl).toBeUndefined();
    expect(abuse.redisOutageGraceMs).toBe(30_000);
    expect(abuse.sessionCacheTtlMs).toBe(5000);
  });

  it('reads rates, off switches and durations', () => {
    const { abuse } = loadConfig({
      RATE_LIMITS: 'off',
      RATE_LIMIT_SIGNIN_IP: '100/1h',
      RATE_LIMIT_FORGOT_ACCOUNT: 'off',
      LOGIN_THROTTLE_MAX_DELAY: '5m',
      REDIS_URL: 'redis://cache:6379/2',
      REDIS_OUTAGE_GRACE: '500ms',
      SESSION_CACHE_TTL: '0',
    });
    expect(abuse.rateLimitsEnabled).toBe(false);
    expect(abuse.limits.signin.ip).toEqual({ max: 100, windowSeconds: 3600 });
    expect(abuse.limits.forgot.account).toBeNull();
    expect(abuse.throttle.maxDelayMs).toBe(300_000);
    expect(abuse.redisUrl).toBe('redis://cache:6379/2');
    expect(abuse.redisOutageGraceMs).toBe(500);
    expect(abuse.sessionCacheTtlMs).toBe(0);
  });

  it('names the variable of a bad value', () => {
    for (const [name, value] of [
      ['RATE_LIMIT_SIGNIN_IP', 'lots'],
      ['RATE_LIMIT_REGISTER_ACCOUNT', '0/1m'],
      ['REDIS_URL', 'http://cache'],
      ['SESSION_CACHE_TTL', '1m'],
      ['RATE_LIMITS', 'maybe'],
    ]) {
      expect(() => loadConfig({ [name as string]: value })).toThrow(ConfigError);
      expect(() => loadConfig({ [name as string]: value })).toThrow(name as string);
    }
  });
});
