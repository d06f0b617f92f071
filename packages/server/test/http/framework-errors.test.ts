import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';
import { rawRequest } from '../support/raw-http.js';

/**
 * Requests that Node's parser or Fastify's router refuse before any route runs, sent byte for
 * byte on a socket. Each answer must be problem+json with a stable code, like every other error,
 * and must not echo what the client sent (a reflected path is a phishing and log-injection aid).
 */
const MARK = 'zqxmark';
const json = 'Content-Type: application/json\r\n';
const post = (headers: string, body: string | Buffer = '') => [
  Buffer.concat([
    Buffer.from(`POST /auth/login HTTP/1.1\r\nHost: localhost\r\n${headers}\r\n`),
    Buffer.from(body),
  ]),
];
const get = (target: string, headers = '') => [
  `GET ${target} HTTP/1.1\r\nHost: localhost\r\n${headers}\r\n`,
];

const CASES: { name: string; chunks: (string | Buffer)[]; status?: number; echo?: string }[] = [
  { name: 'a request line that is not HTTP', chunks: [`GARBAGE ${MARK}\r\n\r\n`] },
  { name: 'a request line with extra words', chunks: get(`/auth/me ${MARK}`) },
  { name: 'an invalid method token', chunks: [`G@T /${MARK} HTTP/1.1\r\nHost: x\r\n\r\n`] },
  { name: 'an unknown HTTP version', chunks: [`GET /${MARK} HTTP/9.9\r\nHost: x\r\n\r\n`] },
  { name: 'the HTTP/2 preface', chunks: ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'] },
  { name: 'a header line without a colon', chunks: get(`/${MARK}`, 'Bad Header\r\n') },
  { name: 'a NUL in a header value', chunks: get(`/${MARK}`, 'X-A: a\0b\r\n') },
  {
    name: 'oversized headers',
    chunks: get(`/${MARK}`, `X-Big: ${'a'.repeat(20_000)}\r\n`),
    status: 431,
  },
  { name: 'an oversized URL', chunks: get(`/${MARK}${'a'.repeat(20_000)}`), status: 431 },
  { name: 'a lone % in the path', chunks: get('/%'), echo: '/%' },
  { name: 'a bad escape in the path', chunks: get(`/auth/%zz${MARK}`) },
  { name: 'a bad escape in a parameter', chunks: get(`/admin/users/%E0%A4%A${MARK}`) },
  { name: 'a bad escape in an absolute URL', chunks: get(`http://evil.example/%zz${MARK}`) },
  { name: 'an overlong parameter', chunks: get(`/admin/users/${MARK}${'x'.repeat(200)}`) },
  {
    name: 'an overlong session id',
    chunks: [`DELETE /auth/sessions/${MARK}${'x'.repeat(500)} HTTP/1.1\r\nHost: x\r\n\r\n`],
  },
  { name: 'a path that matches nothing', chunks: get(`/nothing/${MARK}`), status: 404 },
  { name: 'a protocol-relative path', chunks: get(`//evil.example/${MARK}`), status: 404 },
  {
    name: 'a known path with an unsupported method',
    chunks: [`PROPFIND /auth/login/${MARK} HTTP/1.1\r\nHost: x\r\n\r\n`],
  },
  { name: 'a wrong method', chunks: [`PUT /auth/login HTTP/1.1\r\nHost: x\r\n\r\n`], status: 405 },
  { name: 'HTTP/1.1 without Host', chunks: [`GET /${MARK} HTTP/1.1\r\n\r\n`], status: 400 },
  { name: 'an unknown expectation', chunks: get(`/${MARK}`, 'Expect: 100-banana\r\n') },
  { name: 'a Content-Length that is not a number', chunks: post(`${json}Content-Length: abc\r\n`) },
  { name: 'a negative Content-Length', chunks: post(`${json}Content-Length: -1\r\n`) },
  {
    name: 'two different Content-Lengths',
    chunks: post(`${json}Content-Length: 2\r\nContent-Length: 3\r\n`, '{}'),
  },
  {
    name: 'Content-Length with chunked encoding',
    chunks: post(
      `${json}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n`,
      '2\r\n{}\r\n0\r\n\r\n',
    ),
  },
  {
    name: 'a broken chunk size',
    chunks: post(`${json}Transfer-Encoding: chunked\r\n`, `zz\r\n${MARK}\r\n`),
  },
  {
    name: 'a Content-Length shorter than the JSON',
    chunks: post(`${json}Content-Length: 5\r\n`, '{"email":"a@b.c"}'),
    status: 400,
  },
  {
    name: 'a Content-Length over the body limit',
    chunks: post(`${json}Content-Length: 99999999\r\n`, '{}'),
    status: 413,
  },
  {
    name: 'invalid JSON',
    chunks: post(`${json}Content-Length: 9\r\n`, '{"email":'),
    status: 400,
  },
  {
    name: 'a compressed body',
    chunks: (() => {
      const body = gzipSync('{"email":"a@b.c","password":"x"}');
      return post(`${json}Content-Encoding: gzip\r\nContent-Length: ${body.length}\r\n`, body);
    })(),
    status: 415,
  },
  {
    name: 'a body labelled compressed that is not',
    chunks: post(`${json}Content-Encoding: br\r\nContent-Length: 2\r\n`, '{}'),
    status: 415,
  },
  {
    name: 'a proxy tunnel',
    chunks: [`CONNECT ${MARK}.example:443 HTTP/1.1\r\nHost: ${MARK}.example:443\r\n\r\n`],
    status: 405,
  },
  {
    name: 'an unknown charset',
    chunks: post('Content-Type: application/json; charset=utf-7\r\nContent-Length: 2\r\n', '{}'),
  },
  {
    name: 'a form body',
    chunks: post('Content-Type: text/plain\r\nContent-Length: 2\r\n', '{}'),
    status: 415,
  },
];

describe.each(backends)('every refused request is problem+json on %s', (backend) => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await createTestApp(backend);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as AddressInfo).port;
  });
  afterAll(() => t.close());

  it.each(CASES)('$name', async ({ chunks, status, echo }) => {
    const answer = await rawRequest(port, chunks);
    expect(answer.status, answer.raw.slice(0, 300)).toBeGreaterThanOrEqual(400);
    if (status) expect(answer.status).toBe(status);
    expect(answer.headers['content-type'], answer.raw.slice(0, 300)).toMatch(
      /^application\/problem\+json/,
    );
    const body = JSON.parse(answer.body) as Record<string, unknown>;
    expect(body).toMatchObject({
      status: answer.status,
      code: expect.stringMatching(/^[a-z_]+$/),
      type: `urn:latchkey:problem:${String(body.code)}`,
      title: expect.any(String),
      detail: expect.any(String),
      requestId: expect.any(String),
    });
    expect(answer.body).not.toContain(MARK);
    if (echo) expect(answer.body).not.toContain(echo);
  });
});
