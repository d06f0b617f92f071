import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemPlugin } from '../../src/http/problem.js';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';

const expectProblem = (
  res: { statusCode: number; headers: Record<string, unknown>; json(): Record<string, unknown> },
  status: number,
  code: string,
) => {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json();
  expect(body).toMatchObject({
    status,
    code,
    type: `urn:latchkey:problem:${code}`,
    title: expect.any(String),
  });
  expect(body.requestId).toEqual(expect.any(String));
  expect(JSON.stringify(body)).not.toMatch(/at .*\.(ts|js):\d+|select |insert /i);
  return body;
};

describe.each(backends)('HTTP protocol and errors on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend);
  });
  afterAll(() => t.close());

  it('refuses malformed JSON with 400 malformed_json', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': 'application/json' },
      payload: '{"email": "a@b.c", "password": ',
    });
    expectProblem(res, 400, 'malformed_json');
  });

  it('refuses prototype-poisoning JSON', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': 'application/json' },
      payload: '{"email": "a@b.c", "password": "x", "__proto__": {"isAdmin": true}}',
    });
    expect(res.statusCode).toBe(400);
    expect(['malformed_json', 'validation_failed']).toContain(res.json().code);
  });

  it('refuses form-encoded and text bodies with 415', async () => {
    const form = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `email=a%40b.c&password=${encodeURIComponent(STRONG_PASSWORD)}`,
    });
    expectProblem(form, 415, 'unsupported_media_type');
    const text = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': 'text/plain' },
      payload: '{"email":"a@b.c","password":"x"}',
    });
    expectProblem(text, 415, 'unsupported_media_type');
  });

  it('refuses a 3 MB body with 413', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ email: 'a@b.c', password: 'x'.repeat(3 * 1024 * 1024) }),
    });
    expectProblem(res, 413, 'body_too_large');
  });

  it('refuses an empty JSON body and a JSON array', async () => {
    const empty = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': 'application/json' },
      payload: '',
    });
    expectProblem(empty, 400, 'malformed_json');
    const array = await t.app.inject({ method: 'POST', url: '/auth/login', payload: [1, 2] });
    expectProblem(array, 400, 'validation_failed');
  });

  it('answers unknown paths with 404 and wrong methods with 405 + Allow', async () => {
    expectProblem(await t.app.inject({ method: 'GET', url: '/nope' }), 404, 'not_found');
    const wrongMethod = await t.app.inject({ method: 'GET', url: '/auth/login' });
    expectProblem(wrongMethod, 405, 'method_not_allowed');
    expect(wrongMethod.headers.allow).toBe('POST');
    const deleteMe = await t.app.inject({ method: 'DELETE', url: '/auth/me' });
    expect(deleteMe.statusCode).toBe(405);
    expect(deleteMe.headers.allow).toMatch(/GET/);
  });

  it('sends security headers, no x-powered-by, and no-store on auth answers', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/auth/me' });
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBeDefined();
    expect(res.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cache-control']).toBe('no-store');
    // HSTS only when served over https (see the https test).
    expect(res.headers['strict-transport-security']).toBeUndefined();
  });

  it('answers health and readiness', async () => {
    const health = await t.app.inject({ method: 'GET', url: '/healthz' });
    expect(health.json()).toEqual({ status: 'ok' });
    const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ok', checks: { database: 'ok' } });
  });

  it('publishes the OpenAPI document and the docs page', async () => {
    const doc = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(doc.statusCode).toBe(200);
    const spec = doc.json();
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        '/auth/register',
        '/auth/login',
        '/auth/logout',
        '/auth/me',
        '/auth/verify-email',
      ]),
    );
    expect(
      spec.paths['/auth/login'].post.requestBody.content['application/json'].schema.required,
    ).toEqual(expect.arrayContaining(['email', 'password']));
    expect(spec.paths['/dev/mail']).toBeUndefined();
    const docs = await t.app.inject({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.headers['content-type']).toMatch(/text\/html/);
  });

  it('answers CORS preflights only for configured origins', async () => {
    const res = await t.app.inject({
      method: 'OPTIONS',
      url: '/auth/login',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('CORS with CORS_ORIGINS', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('pglite', { CORS_ORIGINS: 'https://app.example.com' });
  });
  afterAll(() => t.close());

  it('answers preflights of a configured origin, with credentials', async () => {
    const res = await t.app.inject({
      method: 'OPTIONS',
      url: '/auth/login',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-csrf-token',
      },
    });
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(String(res.headers['access-control-allow-headers'])).toMatch(/x-csrf-token/);
    expect(res.headers.vary).toMatch(/Origin/);
  });

  it('lets the configured origin read answers, and no other', async () => {
    const mine = await t.app.inject({
      method: 'GET',
      url: '/auth/me',
      headers: { origin: 'https://app.example.com' },
    });
    expect(mine.headers['access-control-allow-origin']).toBe('https://app.example.com');
    const foreign = await t.app.inject({
      method: 'GET',
      url: '/auth/me',
      headers: { origin: 'https://evil.example' },
    });
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('sends no CORS headers at all without CORS_ORIGINS', async () => {
    const plain = await createTestApp('pglite');
    try {
      const res = await plain.app.inject({
        method: 'OPTIONS',
        url: '/auth/login',
        headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
      });
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    } finally {
      await plain.close();
    }
  });
});

describe('the readiness probe', () => {
  it('answers 503 not_ready when the database is gone', async () => {
    const t = await createTestApp('pglite');
    await t.database.close();
    const res = await t.app.inject({ method: 'GET', url: '/readyz' });
    expectProblem(res, 503, 'not_ready');
    await t.app.close();
  });
});

describe('unexpected errors', () => {
  it('become a generic 500 problem without details', async () => {
    const app = Fastify({ logger: false });
    await app.register(problemPlugin);
    app.get('/boom', async () => {
      throw new Error(
        'connection to 10.0.0.5 failed: password authentication failed for user "root"',
      );
    });
    const res = await app.inject({ method: 'GET', url: '/boom' });
    const body = expectProblem(res, 500, 'internal_error');
    expect(JSON.stringify(body)).not.toMatch(/10\.0\.0\.5|password|root/);
  });
});
