import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { configProblems } from '../support/config.js';
import { formatDuration, parseBoolean, parseDuration } from '../../src/config/values.js';

const problemsOf = configProblems;

describe('the boolean grammar', () => {
  it('reads true/false, 1/0, yes/no and on/off in any case', () => {
    for (const word of ['true', '1', 'yes', 'on', 'TRUE', 'Yes', 'On', ' on ']) {
      expect(parseBoolean(word)).toBe(true);
    }
    for (const word of ['false', '0', 'no', 'off', 'False', 'NO', 'OFF']) {
      expect(parseBoolean(word)).toBe(false);
    }
    for (const word of ['maybe', 'y', 'n', 'enabled', '2', '']) {
      expect(parseBoolean(word)).toBeUndefined();
    }
  });

  it('is the same for every boolean variable', () => {
    for (const [word, value] of [
      ['yes', true],
      ['NO', false],
      ['On', true],
      ['0', false],
    ] as const) {
      const config = loadConfig({
        RATE_LIMITS: word,
        REQUIRE_EMAIL_VERIFICATION: word,
        METRICS_PUBLIC: word,
      });
      expect(config.abuse.rateLimitsEnabled).toBe(value);
      expect(config.requireEmailVerification).toBe(value);
    }
    // METRICS_PUBLIC has no field of its own: it lets production start without METRICS_TOKEN.
    const production = {
      NODE_ENV: 'production',
      PUBLIC_URL: 'https://auth.example.com',
      SMTP_URL: 'smtp://mail.example.com:587',
    };
    expect(problemsOf({ ...production, METRICS_PUBLIC: 'YES' })).toEqual([]);
    expect(problemsOf({ ...production, METRICS_PUBLIC: 'off' })).toHaveLength(1);
  });

  it('refuses anything else, naming the variable and the accepted words', () => {
    for (const name of ['RATE_LIMITS', 'REQUIRE_EMAIL_VERIFICATION', 'METRICS_PUBLIC']) {
      expect(problemsOf({ [name]: 'enabled' })).toEqual([
        `${name}="enabled" is invalid: expected true or false (also 1/0, yes/no, on/off, in any case)`,
      ]);
    }
  });

  it('switches rates and TRUST_PROXY off with any false word', () => {
    for (const word of ['off', 'OFF', 'false', 'no', '0']) {
      expect(loadConfig({ RATE_LIMIT_SIGNIN_IP: word }).abuse.limits.signin.ip).toBeNull();
      expect(loadConfig({ TRUST_PROXY: word }).trustProxy).toBe(false);
    }
    // Trusting every hop stays refused however it is spelled.
    for (const word of ['true', 'YES', 'On']) {
      expect(problemsOf({ TRUST_PROXY: word })[0]).toMatch(/^TRUST_PROXY=.* is invalid/);
    }
  });
});

describe('the duration grammar', () => {
  it('reads whole seconds and ms, s, m, h, d', () => {
    expect(parseDuration('900')).toBe(900);
    expect(parseDuration('500ms')).toBe(0.5);
    expect(parseDuration('30s')).toBe(30);
    expect(parseDuration('15m')).toBe(900);
    expect(parseDuration('24h')).toBe(86400);
    expect(parseDuration('7d')).toBe(604800);
    expect(parseDuration(' 15 m ')).toBe(900);
    for (const bad of ['soon', '1.5h', '-1s', '15M', '1w', 'm', '']) {
      expect(parseDuration(bad)).toBeNaN();
    }
  });

  it('writes seconds back in the largest whole unit', () => {
    expect(formatDuration(3600)).toBe('1h');
    expect(formatDuration(90)).toBe('90s');
    expect(formatDuration(86400 * 7)).toBe('7d');
    expect(formatDuration(0.5)).toBe('500ms');
  });

  it('is the same for every duration variable', () => {
    const config = loadConfig({
      SESSION_IDLE_TIMEOUT: '900',
      SESSION_ABSOLUTE_TIMEOUT: '2d',
      VERIFY_TOKEN_TTL: '12h',
      RESET_TOKEN_TTL: '900',
      DATABASE_STATEMENT_TIMEOUT: '1500ms',
      DATABASE_POOL_TIMEOUT: '2',
      HIBP_URL: 'https://hibp.example.com/range',
      HIBP_TIMEOUT: '1s',
      ACCESS_TOKEN_TTL: '300',
      LOGIN_THROTTLE_MAX_DELAY: '1h',
      REDIS_OUTAGE_GRACE: '1m',
      SESSION_CACHE_TTL: '2000ms',
      AUDIT_RETENTION: '86400',
      MAIL_RETENTION: '2h',
      SESSION_RETENTION: '36h',
    });
    expect(config.session).toMatchObject({
      idleTimeoutSeconds: 900,
      absoluteTimeoutSeconds: 172800,
      retentionSeconds: 129600,
    });
    expect(config.tokens).toEqual({ verifyEmailTtlSeconds: 43200, resetPasswordTtlSeconds: 900 });
    expect(config.databaseTimeouts).toEqual({ statementTimeoutMs: 1500, poolTimeoutMs: 2000 });
    expect(config.password.breachCheck?.timeoutMs).toBe(1000);
    expect(config.jwt.accessTtlSeconds).toBe(300);
    expect(config.abuse.throttle.maxDelayMs).toBe(3_600_000);
    expect(config.abuse.redisOutageGraceMs).toBe(60_000);
    expect(config.abuse.sessionCacheTtlMs).toBe(2000);
    expect(config.admin).toMatchObject({
      auditRetentionSeconds: 86400,
      mailRetentionSeconds: 7200,
    });
  });

  it('keeps the defaults written in the same grammar', () => {
    const config = loadConfig({});
    expect(config.tokens).toEqual({ verifyEmailTtlSeconds: 86400, resetPasswordTtlSeconds: 1800 });
    expect(config.jwt.accessTtlSeconds).toBe(600);
    expect(config.databaseTimeouts).toEqual({ statementTimeoutMs: 5000, poolTimeoutMs: 3000 });
    expect(config.admin).toMatchObject({
      auditRetentionSeconds: 365 * 86400,
      mailRetentionSeconds: 7 * 86400,
    });
    expect(config.abuse.throttle.maxDelayMs).toBe(900_000);
    expect(config.session.retentionSeconds).toBe(7 * 86400);
  });

  it('refuses a malformed duration with the grammar, and one out of range with the bound', () => {
    expect(problemsOf({ RESET_TOKEN_TTL: '30 minutes' })).toEqual([
      'RESET_TOKEN_TTL="30 minutes" is invalid: expected a duration: whole seconds (900) or a whole number with ms, s, m, h or d (500ms, 30s, 15m, 24h, 7d)',
    ]);
    expect(problemsOf({ VERIFY_TOKEN_TTL: '0' })).toEqual([
      'VERIFY_TOKEN_TTL="0" is invalid: expected a duration greater than zero',
    ]);
    expect(problemsOf({ AUDIT_RETENTION: '30m' })).toEqual([
      'AUDIT_RETENTION="30m" is invalid: expected a duration of at least 1h',
    ]);
    expect(problemsOf({ SESSION_RETENTION: '59m' })).toEqual([
      'SESSION_RETENTION="59m" is invalid: expected a duration of at least 1h',
    ]);
    expect(problemsOf({ ACCESS_TOKEN_TTL: '2d' })).toEqual([
      'ACCESS_TOKEN_TTL="2d" is invalid: expected a duration of at most 1d',
    ]);
    expect(problemsOf({ SESSION_CACHE_TTL: '11s' })[0]).toMatch(
      /^SESSION_CACHE_TTL="11s" is invalid: expected a duration of at most 10s: revocations/,
    );
  });

  it('uses the same units in rate windows', () => {
    const { limits } = loadConfig({
      RATE_LIMIT_SIGNIN_IP: '5 / 90',
      RATE_LIMIT_FORGOT_IP: '2/1d',
    }).abuse;
    expect(limits.signin.ip).toEqual({ max: 5, windowSeconds: 90 });
    expect(limits.forgot.ip).toEqual({ max: 2, windowSeconds: 86400 });
    expect(problemsOf({ RATE_LIMIT_VERIFY_IP: '5/500ms' })[0]).toMatch(
      /^RATE_LIMIT_VERIFY_IP="5\/500ms" is invalid: expected a rate such as 30\/5m/,
    );
  });
});
