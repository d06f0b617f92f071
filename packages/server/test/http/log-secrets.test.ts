import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/app/logger.js';
import { cookieFrom, createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { OTHER_PASSWORD, forgotPassword, resetPassword, uniqueEmail } from '../support/account.js';
import { backends } from '../support/db.js';

/**
 * Every credential a full account flow handles, grepped for in the log written at the most
 * verbose level: a logged reset link is an account takeover for whoever reads the logs.
 */
describe.each(backends)('no secret reaches the log on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend, { LOG_LEVEL: 'trace', RATE_LIMITS: 'off' });
  });
  afterAll(() => t.close());

  it('logs requests by path and route, never their tokens, cookies or passwords', async () => {
    const secrets: Record<string, string> = {
      password: STRONG_PASSWORD,
      newPassword: OTHER_PASSWORD,
    };
    const email = uniqueEmail('logs');
    const inject = t.app.inject.bind(t.app);

    const registered = await inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email, password: STRONG_PASSWORD },
    });
    expect(registered.statusCode).toBe(202);
    secrets.verifyToken = await t.tokenFromLatestMail(email);
    // The mailed link opens the page, whose script posts the token.
    await inject({ method: 'GET', url: `/verify-email?token=${secrets.verifyToken}` });
    const verified = await inject({
      method: 'POST',
      url: '/auth/verify-email',
      payload: { token: secrets.verifyToken, password: STRONG_PASSWORD },
    });
    expect(verified.statusCode).toBe(200);

    const login = await inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: STRONG_PASSWORD },
    });
    expect(login.statusCode).toBe(200);
    const cookie = cookieFrom(login.headers['set-cookie']);
    secrets.sessionCookie = cookie.split('=')[1] as string;
    secrets.csrfToken = login.json().csrfToken;
    const me = await inject({
      method: 'GET',
      url: '/auth/me',
      headers: { cookie, 'x-csrf-token': secrets.csrfToken },
    });
    expect(me.statusCode).toBe(200);

    expect((await forgotPassword(t, email)).statusCode).toBe(202);
    secrets.resetToken = await t.tokenFromLatestMail(email);
    await inject({ method: 'GET', url: `/reset-password?token=${secrets.resetToken}` });
    expect((await resetPassword(t, secrets.resetToken, OTHER_PASSWORD)).statusCode).toBe(204);

    const issued = await inject({
      method: 'POST',
      url: '/auth/token',
      payload: { email, password: OTHER_PASSWORD },
    });
    expect(issued.statusCode).toBe(200);
    secrets.accessToken = issued.json().accessToken;
    secrets.refreshToken = issued.json().refreshToken;
    const bearer = await inject({
      method: 'GET',
      url: '/auth/me',
      headers: { authorization: `Bearer ${secrets.accessToken}` },
    });
    expect(bearer.statusCode).toBe(200);
    const refreshed = await inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refreshToken: secrets.refreshToken },
    });
    expect(refreshed.statusCode).toBe(200);
    secrets.refreshedAccessToken = refreshed.json().accessToken;
    secrets.refreshedRefreshToken = refreshed.json().refreshToken;
    await inject({
      method: 'POST',
      url: '/auth/revoke',
      payload: { refreshToken: secrets.refreshedRefreshToken },
    });

    const again = await inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: OTHER_PASSWORD },
    });
    const againCookie = cookieFrom(again.headers['set-cookie']);
    secrets.secondCookie = againCookie.split('=')[1] as string;
    secrets.secondCsrf = again.json().csrfToken;
    const logout = await inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { cookie: againCookie, 'x-csrf-token': secrets.secondCsrf },
    });
    expect(logout.statusCode).toBe(204);

    // Nothing is routed here, and the query still looks like a credential.
    secrets.strayToken = 'Zq3vR8sT1uW5xY7aB9cD2eF4gH6iJ0kL3mN5oP7qR9s';
    const stray = await inject({
      method: 'GET',
      url: `/reset-password/confirm?token=${secrets.strayToken}&next=/account`,
    });
    expect(stray.statusCode).toBe(404);
    expect(stray.body).not.toContain(secrets.strayToken);

    const log = t.logs();
    for (const [name, value] of Object.entries(secrets)) {
      expect(value.length, name).toBeGreaterThan(8);
      expect(log.includes(value), `${name} is in the log`).toBe(false);
      expect(log.includes(encodeURIComponent(value)), `${name} is in the log`).toBe(false);
    }
    expect(log).not.toContain('?token=');
    // The requests are logged, by path and route, so the log is still worth reading.
    expect(log).toContain('"url":"/reset-password"');
    expect(log).toContain('"route":"/auth/reset-password"');
    expect(log).toContain('"url":"/reset-password/confirm"');
  });
});

describe('the logger', () => {
  it('keeps query strings, raw packets and credential headers out of any log call', () => {
    let output = '';
    const stream = new PassThrough();
    stream.on('data', (chunk) => {
      output += chunk;
    });
    const log = createLogger('trace', stream);
    const secret = 'Zq3vR8sT1uW5xY7aB9cD2eF4gH6iJ0kL3mN5oP7qR9s';
    const parseError = Object.assign(new Error(`bad request /reset-password?token=${secret}`), {
      code: 'HPE_INVALID_METHOD',
      rawPacket: Buffer.from(`GET /reset-password?token=${secret} HTTP/1.1`),
    });
    log.debug({ err: parseError }, 'client error');
    log.warn(`Reply was already sent in the "/verify-email?token=${secret}" route`);
    log.info(
      { headers: { cookie: `sid=${secret}`, authorization: `Bearer ${secret}` } },
      'headers',
    );
    log.info({ res: { headers: { 'set-cookie': `sid=${secret}` } } }, 'response');
    log.info({ req: { method: 'GET', url: `/verify-email?token=${secret}`, headers: {} } });
    stream.end();

    expect(output).not.toContain(secret);
    expect(output).not.toContain('rawPacket');
    expect(output).toContain('"code":"HPE_INVALID_METHOD"');
    expect(output).toContain('/verify-email?[redacted]');
    expect(output).toContain('"url":"/verify-email"');
    expect(output).toContain('"cookie":"[redacted]"');
  });
});
