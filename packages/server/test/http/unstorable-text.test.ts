import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unstorableTextPath } from '../../src/http/validator.js';
import { login, uniqueEmail, verifiedUser, type Device } from '../support/account.js';
import { userWithRoles } from '../support/admin.js';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { createCredential } from '../support/authenticator.js';
import { backends } from '../support/db.js';

const ORIGIN = 'http://localhost:3000';

describe('unstorableTextPath', () => {
  it('finds a NUL or an unpaired surrogate in any string or key, and passes the rest', () => {
    expect(unstorableTextPath({ a: ['ok', { b: 'x\u0000y' }] })).toEqual(['a', 1, 'b']);
    expect(unstorableTextPath({ a: '\udc00' })).toEqual(['a']);
    expect(unstorableTextPath({ ['k\u0000']: 1 })).toEqual(['k\u0000']);
    expect(unstorableTextPath({ name: 'Zoë 👩‍💻 日本', n: 1, x: null, t: true })).toBeUndefined();
  });

  it('walks a body nested deeper than the call stack would allow', () => {
    let deep: unknown = 'a\u0000';
    for (let i = 0; i < 30_000; i++) deep = [deep];
    expect(unstorableTextPath(deep)).toHaveLength(30_000);
  });
});

describe.each(backends)('text the database cannot store, on %s', (backend) => {
  let t: TestApp;
  let admin: Device;
  let user: Device;
  let userId: string;
  beforeAll(async () => {
    t = await createTestApp(backend, { LOG_LEVEL: 'info' });
    admin = (await userWithRoles(t, 'unstorable-admin', ['admin'])).device;
    const u = await verifiedUser(t, 'unstorable');
    userId = u.id;
    user = await login(t, u.email);
  });
  afterAll(() => t.close());

  const requests = (bad: string, inQuery: string) =>
    [
      [
        'POST',
        '/auth/register',
        null,
        { email: uniqueEmail('nul'), password: STRONG_PASSWORD, name: bad },
        'name',
      ],
      ['PATCH', '/auth/me', 'user', { name: bad }, 'name'],
      ['PATCH', `/admin/users/${userId}`, 'admin', { name: bad }, 'name'],
      [
        'POST',
        '/admin/roles',
        'admin',
        { name: 'r1', description: bad, permissions: [] },
        'description',
      ],
      [
        'POST',
        '/admin/webhooks',
        'admin',
        { url: 'https://example.com/h', events: ['user.created'], description: bad },
        'description',
      ],
      [
        'POST',
        '/admin/webhooks',
        'admin',
        { url: `https://example.com/a${bad}?key=k3yS3cr3t`, events: ['user.created'] },
        'url',
      ],
      ['GET', `/admin/users?q=${inQuery}`, 'admin', undefined, 'q'],
      ['GET', `/admin/audit-events?type=${inQuery}`, 'admin', undefined, 'type'],
    ] as const;

  it.each([
    ['a NUL', 'a\u0000b', '%00'],
    ['an unpaired surrogate', 'a\ud800b', '%00'],
  ])(
    'answers 400 validation_failed naming the field for %s, in bodies and query strings',
    async (_, bad, inQuery) => {
      for (const [method, url, who, payload, field] of requests(bad, inQuery)) {
        const headers = who === 'admin' ? admin.headers : who === 'user' ? user.headers : {};
        const res = await t.app.inject({ method, url, headers, ...(payload ? { payload } : {}) });
        expect(res.statusCode, `${method} ${url}: ${res.body}`).toBe(400);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(res.json()).toMatchObject({ code: 'validation_failed', errors: [{ field }] });
      }
      expect(t.logs()).not.toContain('k3yS3cr3t');
      expect(t.logs()).not.toMatch(/unhandled error/);
    },
  );

  it('refuses a passkey whose name or transports hold a NUL, and one answering with a NUL credential id', async () => {
    const options = (
      await t.app.inject({
        method: 'POST',
        url: '/auth/passkeys/registration-options',
        headers: user.headers,
      })
    ).json();
    const { response } = createCredential(options, { origin: ORIGIN });
    const named = await t.app.inject({
      method: 'POST',
      url: '/auth/passkeys',
      headers: user.headers,
      payload: { response, name: 'a\u0000b' },
    });
    expect(named.statusCode).toBe(400);
    const transports = await t.app.inject({
      method: 'POST',
      url: '/auth/passkeys',
      headers: user.headers,
      payload: {
        response: { ...response, response: { ...response.response, transports: ['\u0000'] } },
      },
    });
    expect(transports.statusCode).toBe(400);

    const login = await t.app.inject({ method: 'POST', url: '/auth/passkeys/login-options' });
    const clientDataJSON = Buffer.from(
      JSON.stringify({ type: 'webauthn.get', challenge: login.json().challenge, origin: ORIGIN }),
    ).toString('base64url');
    const assertion = {
      id: 'a\u0000b',
      rawId: 'x',
      type: 'public-key',
      response: { clientDataJSON, authenticatorData: 'AAAA', signature: 'AAAA' },
      clientExtensionResults: {},
    };
    const byId = await t.app.inject({
      method: 'POST',
      url: '/auth/passkeys/login',
      payload: { response: assertion },
    });
    expect(byId.statusCode).toBe(400);
  });

  it('answers a clientDataJSON challenge that is not one of ours like any failed passkey sign-in', async () => {
    for (const challenge of ['a\u0000b', 'short', 'x'.repeat(600), 'not base64url!!!!!!!!']) {
      const clientDataJSON = Buffer.from(
        JSON.stringify({ type: 'webauthn.get', challenge, origin: ORIGIN }),
      ).toString('base64url');
      const res = await t.app.inject({
        method: 'POST',
        url: '/auth/passkeys/login',
        payload: {
          response: {
            id: 'x',
            rawId: 'x',
            type: 'public-key',
            response: { clientDataJSON, authenticatorData: 'AAAA', signature: 'AAAA' },
            clientExtensionResults: {},
          },
        },
      });
      expect(res.statusCode, res.body).toBe(401);
      expect(res.json().code).toBe('invalid_credentials');
    }
  });
});
