import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { configProblems } from '../support/config.js';

describe('configuration', () => {
  it('has working defaults for the embedded setup', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      databaseUrl: undefined,
      requireEmailVerification: true,
      password: { minLength: 15, minScore: 3 },
      argon2: { memoryCost: 19456, timeCost: 2, parallelism: 1 },
      session: {
        idleTimeoutSeconds: 7 * 86400,
        absoluteTimeoutSeconds: 30 * 86400,
        secureCookie: false,
      },
    });
    expect(config.publicUrl.href).toBe('http://localhost:3000/');
    expect(config.dataDir).toMatch(/\/data$/);
  });

  it('parses durations, booleans, lists and the proxy setting', () => {
    const config = loadConfig({
      SESSION_IDLE_TIMEOUT: '15m',
      SESSION_ABSOLUTE_TIMEOUT: '12h',
      REQUIRE_EMAIL_VERIFICATION: 'false',
      CORS_ORIGINS: 'https://app.example.com, https://admin.example.com/',
      TRUST_PROXY: '10.0.0.0/8, 127.0.0.1',
      PUBLIC_URL: 'https://auth.example.com',
    });
    expect(config.session).toMatchObject({
      idleTimeoutSeconds: 900,
      absoluteTimeoutSeconds: 43200,
      secureCookie: true,
    });
    expect(config.requireEmailVerification).toBe(false);
    expect(config.corsOrigins).toEqual(['https://app.example.com', 'https://admin.example.com']);
    expect(config.trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1']);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
  });

  it('reads the breached-password lookup, off unless HIBP_URL is set', () => {
    expect(loadConfig({}).password.breachCheck).toBeUndefined();
    expect(
      loadConfig({ HIBP_URL: 'https://api.pwnedpasswords.com/range', HIBP_TIMEOUT: '800ms' })
        .password.breachCheck,
    ).toEqual({ url: 'https://api.pwnedpasswords.com/range/', timeoutMs: 800 });
    expect(() => loadConfig({ HIBP_URL: 'ftp://x' })).toThrow(/HIBP_URL="ftp:\/\/x" is invalid/);
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' }).port).toBe(3000);
  });

  it('names every bad variable and what it expects', () => {
    try {
      loadConfig({
        PORT: 'eighty',
        DATABASE_URL: 'mysql://x',
        PASSWORD_MIN_LENGTH: '6',
        SESSION_IDLE_TIMEOUT: 'soon',
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message).toMatch(/PORT="eighty" is invalid/);
      expect(message).toMatch(/DATABASE_URL=.* is invalid: expected a postgres:\/\/ URL/);
      expect(message).toMatch(/PASSWORD_MIN_LENGTH="6" is invalid/);
      expect(message).toMatch(/SESSION_IDLE_TIMEOUT="soon" is invalid: expected a duration/);
    }
  });

  it('refuses an idle timeout longer than the absolute one', () => {
    expect(() => loadConfig({ SESSION_IDLE_TIMEOUT: '31d' })).toThrow(/SESSION_IDLE_TIMEOUT/);
  });

  it('takes TRUST_PROXY as a hop count or proxy addresses, and refuses "true" (trust every hop)', () => {
    expect(loadConfig({ TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(loadConfig({ TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '0' }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '::1, 2001:db8::/32' }).trustProxy).toEqual([
      '::1',
      '2001:db8::/32',
    ]);
    for (const value of ['true', 'yes', 'on']) {
      expect(() => loadConfig({ TRUST_PROXY: value })).toThrow(
        /TRUST_PROXY=.* is invalid: expected a hop count .* or the addresses\/CIDRs of your proxies/,
      );
    }
    expect(() => loadConfig({ TRUST_PROXY: 'proxy.internal' })).toThrow(
      /TRUST_PROXY="proxy.internal" is invalid/,
    );
    expect(() => loadConfig({ TRUST_PROXY: '10.0.0.0/33' })).toThrow(/TRUST_PROXY/);
  });

  describe('in production', () => {
    const production = {
      NODE_ENV: 'production',
      PUBLIC_URL: 'https://auth.example.com',
      SMTP_URL: 'smtp://mail.example.com:587',
      METRICS_TOKEN: 'a-metrics-token-of-some-length',
    };
    const problems = configProblems;

    it('starts with https, SMTP and a metrics token', () => {
      expect(problems(production)).toEqual([]);
    });

    it('refuses an http PUBLIC_URL that is not loopback, naming the fix', () => {
      const found = problems({ ...production, PUBLIC_URL: 'http://auth.example.com' });
      expect(found).toHaveLength(1);
      expect(found[0]).toMatch(/^PUBLIC_URL=http:\/\/auth\.example\.com is not https/);
      expect(found[0]).toMatch(/https:\/\//);
      // Loopback is a local trial: allowed (the start still warns).
      for (const url of ['http://localhost:3000', 'http://127.0.0.1:3000', 'http://[::1]:3000']) {
        expect(problems({ ...production, PUBLIC_URL: url })).toEqual([]);
      }
      // Outside production an http address is fine.
      expect(problems({ PUBLIC_URL: 'http://auth.example.com' })).toEqual([]);
    });

    it('refuses /metrics without METRICS_TOKEN unless METRICS_PUBLIC=true', () => {
      const found = problems({ ...production, METRICS_TOKEN: undefined });
      expect(found).toHaveLength(1);
      expect(found[0]).toMatch(/METRICS_TOKEN/);
      expect(found[0]).toMatch(/METRICS_PUBLIC=true/);
      const open = loadConfig({ ...production, METRICS_TOKEN: undefined, METRICS_PUBLIC: 'true' });
      expect(open.admin.metricsToken).toBeUndefined();
      expect(
        problems({ ...production, METRICS_TOKEN: undefined, METRICS_PUBLIC: 'false' }),
      ).toHaveLength(1);
      expect(problems({ METRICS_PUBLIC: 'maybe' })[0]).toMatch(/METRICS_PUBLIC="maybe" is invalid/);
    });

    it('refuses to start without SMTP_URL: mail would go nowhere', () => {
      const found = problems({ ...production, SMTP_URL: undefined });
      expect(found).toHaveLength(1);
      expect(found[0]).toMatch(/^SMTP_URL is required in production/);
    });

    it('names every problem at once', () => {
      expect(
        problems({ NODE_ENV: 'production', PUBLIC_URL: 'http://auth.example.com' }),
      ).toHaveLength(3);
    });
  });
});

describe('request timeouts', () => {
  it('default to 30 s for a whole request and 10 s for its headers', () => {
    expect(loadConfig({}).timeouts).toEqual({
      requestMs: 30_000,
      headersMs: 10_000,
      shutdownDelayMs: 0,
    });
  });

  it('read REQUEST_TIMEOUT and HEADERS_TIMEOUT as durations', () => {
    expect(loadConfig({ REQUEST_TIMEOUT: '1m', HEADERS_TIMEOUT: '1500ms' }).timeouts).toEqual({
      requestMs: 60_000,
      headersMs: 1500,
      shutdownDelayMs: 0,
    });
    expect(() => loadConfig({ REQUEST_TIMEOUT: '0' })).toThrow(/REQUEST_TIMEOUT="0" is invalid/);
  });

  it('read SHUTDOWN_DELAY as a duration from 0 (stop at once) to 5 minutes', () => {
    expect(loadConfig({ SHUTDOWN_DELAY: '5s' }).timeouts.shutdownDelayMs).toBe(5000);
    expect(loadConfig({ SHUTDOWN_DELAY: '0' }).timeouts.shutdownDelayMs).toBe(0);
    expect(() => loadConfig({ SHUTDOWN_DELAY: '10m' })).toThrow(/SHUTDOWN_DELAY="10m" is invalid/);
    expect(() => loadConfig({ SHUTDOWN_DELAY: 'soon' })).toThrow(
      /SHUTDOWN_DELAY="soon" is invalid/,
    );
  });

  it('refuse headers allowed longer than the whole request', () => {
    expect(() => loadConfig({ REQUEST_TIMEOUT: '5s', HEADERS_TIMEOUT: '6s' })).toThrow(
      /HEADERS_TIMEOUT must not be longer than REQUEST_TIMEOUT/,
    );
  });
});
