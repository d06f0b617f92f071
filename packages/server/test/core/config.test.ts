import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

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
      TRUST_PROXY: '10.0.0.0/8,127.0.0.1',
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
});

describe('request timeouts', () => {
  it('default to 30 s for a whole request and 10 s for its headers', () => {
    expect(loadConfig({}).timeouts).toEqual({ requestMs: 30_000, headersMs: 10_000 });
  });

  it('read REQUEST_TIMEOUT and HEADERS_TIMEOUT as durations', () => {
    expect(loadConfig({ REQUEST_TIMEOUT: '1m', HEADERS_TIMEOUT: '1500ms' }).timeouts).toEqual({
      requestMs: 60_000,
      headersMs: 1500,
    });
    expect(() => loadConfig({ REQUEST_TIMEOUT: '0' })).toThrow(/REQUEST_TIMEOUT="0" is invalid/);
  });

  it('refuse headers allowed longer than the whole request', () => {
    expect(() => loadConfig({ REQUEST_TIMEOUT: '5s', HEADERS_TIMEOUT: '6s' })).toThrow(
      /HEADERS_TIMEOUT must not be longer than REQUEST_TIMEOUT/,
    );
  });
});
