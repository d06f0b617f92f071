import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT_TEST_ENV, auditOf, type Device, login, verifiedUser } from '../support/account.js';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';

describe.each(backends)('PATCH /auth/me on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    // The session cache on for both databases: a renamed user must not be answered from it.
    t = await createTestApp(backend, { ...ACCOUNT_TEST_ENV, SESSION_CACHE_TTL: '5s' });
  });
  afterAll(() => t.close());

  const patchMe = (headers: Record<string, string>, payload: unknown) =>
    t.app.inject({ method: 'PATCH', url: '/auth/me', headers, payload: payload as object });
  const me = (headers: Record<string, string>) =>
    t.app.inject({ method: 'GET', url: '/auth/me', headers });
  const cookieOnly = (device: Device) => ({ cookie: device.cookie });

  async function bearer(email: string) {
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/token',
      payload: { email, password: STRONG_PASSWORD },
    });
    expect(res.statusCode).toBe(200);
    return { authorization: `Bearer ${res.json().accessToken as string}` };
  }

  it('renames the user of a cookie session: the answer and GET /auth/me at once, audited', async () => {
    const { email, id } = await verifiedUser(t, 'rename');
    const device = await login(t, email);
    // Twice, so that the session (and its user) is in the cache before the change.
    expect((await me(cookieOnly(device))).json().user.name).toBeNull();
    expect((await me(cookieOnly(device))).json().user.name).toBeNull();
    expect(t.abuse.sessionCache.active).toBe(true);

    const res = await patchMe(device.headers, { name: '  Ada Lovelace  ' });
    expect(res.statusCode).toBe(200);
    const before = (await me(cookieOnly(device))).json().user;
    expect(res.json()).toEqual({ user: { ...before, name: 'Ada Lovelace' } });
    expect(before).toMatchObject({ id, email, name: 'Ada Lovelace', emailVerified: true });

    const { rows, text } = await auditOf(t, id);
    const updated = rows.filter((r) => r.type === 'user.updated');
    expect(updated).toHaveLength(1);
    expect(updated[0]?.data).toEqual({
      changed: ['name'],
      name: { from: null, to: 'Ada Lovelace' },
    });
    expect(updated[0]?.user_agent).toBe('lightMyRequest');
    expect(text).not.toContain(STRONG_PASSWORD);
    expect(text).not.toContain(device.csrfToken);
  });

  it('renames with a bearer token, which needs no CSRF token', async () => {
    const { email } = await verifiedUser(t, 'rename-bearer');
    const auth = await bearer(email);
    expect((await me(auth)).json().user.name).toBeNull();
    expect((await me(auth)).json().user.name).toBeNull();
    const res = await patchMe(auth, { name: 'Grace' });
    expect(res.statusCode).toBe(200);
    expect(res.json().user).toMatchObject({ email, name: 'Grace' });
    expect((await me(auth)).json().user.name).toBe('Grace');
    // The same user seen through a cookie session.
    const device = await login(t, email);
    expect((await me(cookieOnly(device))).json().user.name).toBe('Grace');
  });

  it('records nothing when the name does not change', async () => {
    const { email, id } = await verifiedUser(t, 'same');
    const device = await login(t, email);
    expect((await patchMe(device.headers, { name: 'Same' })).statusCode).toBe(200);
    const again = await patchMe(device.headers, { name: ' Same ' });
    expect(again.statusCode).toBe(200);
    expect(again.json().user.name).toBe('Same');
    const { types } = await auditOf(t, id);
    expect(types.filter((type) => type === 'user.updated')).toHaveLength(1);
  });

  it('answers 401 unauthenticated without a session or with a bad token', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { cookie: 'latchkey_session=not-a-session' },
      { authorization: 'Bearer not.a.token' },
    ];
    for (const headers of attempts) {
      const res = await patchMe(headers, { name: 'Nobody' });
      expect(res.statusCode).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json().code).toBe('unauthenticated');
    }
  });

  it('answers 403 csrf_failed for a cookie request without the right CSRF token', async () => {
    const { email, id } = await verifiedUser(t, 'csrf');
    const device = await login(t, email);
    for (const headers of [
      cookieOnly(device),
      { cookie: device.cookie, 'x-csrf-token': 'wrong' },
    ]) {
      const res = await patchMe(headers, { name: 'Mallory' });
      expect(res.statusCode).toBe(403);
      expect(res.json().code).toBe('csrf_failed');
    }
    expect((await me(cookieOnly(device))).json().user.name).toBeNull();
    const { types } = await auditOf(t, id);
    expect(types).not.toContain('user.updated');
  });

  it('answers 400 validation_failed for a name that sign-up would refuse, and changes nothing', async () => {
    const { email, id } = await verifiedUser(t, 'invalid');
    const device = await login(t, email);
    const auth = await bearer(email);
    const bodies: unknown[] = [
      {},
      { name: '' },
      { name: '   ' },
      { name: 'x'.repeat(101) },
      { name: 42 },
      { name: null },
      { name: 'Ada', email: 'other@example.com' },
    ];
    for (const headers of [device.headers, auth]) {
      for (const body of bodies) {
        const res = await patchMe(headers, body);
        expect(res.statusCode, JSON.stringify(body)).toBe(400);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(res.json().code).toBe('validation_failed');
      }
    }
    // The longest name sign-up takes is taken here too.
    const longest = await patchMe(device.headers, { name: 'x'.repeat(100) });
    expect(longest.statusCode).toBe(200);
    const { types } = await auditOf(t, id);
    expect(types.filter((type) => type === 'user.updated')).toHaveLength(1);
  });

  it('is in the OpenAPI document with its tag and summary', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const operation = doc.paths['/auth/me'].patch;
    expect(operation.tags).toEqual(['account']);
    expect(operation.summary).toEqual(expect.any(String));
    expect(Object.keys(operation.responses)).toEqual(
      expect.arrayContaining(['200', '400', '401', '403']),
    );
  });
});
