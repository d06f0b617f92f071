import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';
import { type RawAnswer, rawRequest } from '../support/raw-http.js';

/**
 * Slow clients (slowloris): a request that trickles in, a byte at a time, would otherwise hold a
 * connection open for as long as the client likes. Short timeouts here; the defaults are 30 s
 * for the whole request and 10 s for its headers.
 */
const REQUEST_TIMEOUT_MS = 1500;
const HEADERS_TIMEOUT_MS = 800;
const TRICKLE_MS = 200;

const trickle = (text: string) => [...text];

function expectTimedOut(answer: RawAnswer, limitMs: number) {
  expect(answer.closed, 'the server closed the connection').toBe(true);
  // Node checks its connections on an interval, so allow for it and for a busy machine.
  expect(answer.elapsedMs).toBeGreaterThanOrEqual(limitMs - 100);
  expect(answer.elapsedMs).toBeLessThan(limitMs + 2000);
  expect(answer.status).toBe(408);
  expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(JSON.parse(answer.body)).toMatchObject({ status: 408, code: 'request_timeout' });
}

describe.each(backends)('request timeouts on %s', (backend) => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await createTestApp(backend, {
      REQUEST_TIMEOUT: `${REQUEST_TIMEOUT_MS}ms`,
      HEADERS_TIMEOUT: `${HEADERS_TIMEOUT_MS}ms`,
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as AddressInfo).port;
  });
  afterAll(() => t.close());

  it('closes a connection whose body trickles in, with a 408', async () => {
    const head =
      'POST /auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
      'Content-Length: 1000\r\n\r\n';
    const answer = await rawRequest(port, [head, ...trickle('{"email":"a@b.c"'.repeat(10))], {
      gapMs: TRICKLE_MS,
      giveUpMs: REQUEST_TIMEOUT_MS + 5000,
      untilClose: true,
    });
    expectTimedOut(answer, REQUEST_TIMEOUT_MS);
  });

  it('closes a connection whose headers trickle in, with a 408', async () => {
    const head = 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ' + 'a'.repeat(40);
    const answer = await rawRequest(port, trickle(head), {
      gapMs: TRICKLE_MS / 4,
      giveUpMs: HEADERS_TIMEOUT_MS + 5000,
      untilClose: true,
    });
    expectTimedOut(answer, HEADERS_TIMEOUT_MS);
  });

  it('closes a connection that sends nothing', async () => {
    const answer = await rawRequest(port, [], {
      giveUpMs: HEADERS_TIMEOUT_MS + 5000,
      untilClose: true,
    });
    expect(answer.closed).toBe(true);
    expect(answer.elapsedMs).toBeLessThan(HEADERS_TIMEOUT_MS + 2000);
  });

  it('still serves a request that arrives in time, in pieces', async () => {
    const body = JSON.stringify({
      email: 'nobody@example.com',
      password: 'not the password at all',
    });
    const head =
      'POST /auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    const answer = await rawRequest(port, [head, body.slice(0, 10), body.slice(10)], {
      gapMs: 100,
    });
    expect(answer.status, answer.body).toBe(401);
    expect(t.logs()).not.toMatch(/"level":50/);
  });
});
