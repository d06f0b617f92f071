import { randomUUID } from 'node:crypto';
import type { Env } from '../../src/config/config.js';
import { cookieFrom, STRONG_PASSWORD, type TestApp, type TestInstance } from './app.js';

/** Helpers of the account-flow tests (test/http/account-*.test.ts). */

/**
 * These suites sign in many times from one address (inject's 127.0.0.1): the per-IP and
 * per-account request limits, which have tests of their own, are off here. The failed-password
 * throttle stays on (no account here fails more than twice).
 */
export const ACCOUNT_TEST_ENV = { RATE_LIMITS: 'off' } as Env;

export const uniqueEmail = (tag: string) => `${tag}-${randomUUID().slice(0, 8)}@example.com`;

export const OTHER_PASSWORD = 'lantern orchard quietly marble fjord';
export const THIRD_PASSWORD = 'pebble saxophone winter ladder cobalt';

/** What the sign-up and sign-in helpers use of an app: one test app, or one of several instances. */
export type AppWithMail = Pick<TestInstance, 'app' | 'tokenFromLatestMail'>;

export interface SignUpOptions {
  /** The client address of both requests (limit suites give each client its own). */
  remoteAddress?: string;
  /** Headers of both requests. */
  headers?: Record<string, string>;
  /** Where the mail is delivered and the link used (another instance); default: the same app. */
  verifyOn?: AppWithMail;
}

/** Registers and verifies a user; returns the email and id. */
export async function verifiedUser(
  t: AppWithMail,
  tag: string,
  password = STRONG_PASSWORD,
  { remoteAddress, headers, verifyOn = t }: SignUpOptions = {},
) {
  const email = uniqueEmail(tag);
  const client = { ...(remoteAddress && { remoteAddress }), ...(headers && { headers }) };
  const res = await t.app.inject({
    method: 'POST',
    url: '/auth/register',
    payload: { email, password },
    ...client,
  });
  if (res.statusCode !== 202) throw new Error(`register: ${res.statusCode} ${res.body}`);
  const token = await verifyOn.tokenFromLatestMail(email);
  const verified = await verifyOn.app.inject({
    method: 'POST',
    url: '/auth/verify-email',
    payload: { token, password },
    ...client,
  });
  if (verified.statusCode !== 200)
    throw new Error(`verify: ${verified.statusCode} ${verified.body}`);
  return { email, id: verified.json().user.id as string };
}

export interface Device {
  cookie: string;
  csrfToken: string;
  /** Headers for a cookie request with the CSRF token. */
  headers: Record<string, string>;
}

export async function login(
  t: Pick<TestInstance, 'app'>,
  email: string,
  password = STRONG_PASSWORD,
  userAgent = 'vitest',
): Promise<Device> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password },
    headers: { 'user-agent': userAgent },
  });
  if (res.statusCode !== 200) throw new Error(`login: ${res.statusCode} ${res.body}`);
  const cookie = cookieFrom(res.headers['set-cookie']);
  const { csrfToken } = res.json() as { csrfToken: string };
  return { cookie, csrfToken, headers: { cookie, 'x-csrf-token': csrfToken } };
}

export async function loginStatus(t: TestApp, email: string, password: string) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password },
  });
  return res.statusCode;
}

export async function meStatus(t: Pick<TestInstance, 'app'>, device: Device) {
  const res = await t.app.inject({
    method: 'GET',
    url: '/auth/me',
    headers: { cookie: device.cookie },
  });
  return res.statusCode;
}

/** Audit rows of a user, oldest first, as JSON text too (to prove no secret is in them). */
export async function auditOf(t: TestApp, userId: string) {
  const rows = await t.database.db
    .selectFrom('audit_events')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('id')
    .execute();
  return { rows, types: rows.map((r) => r.type), text: JSON.stringify(rows) };
}

/** Mails delivered to `to` so far (delivers pending ones first). */
export async function mailsTo(t: TestApp, to: string) {
  await t.deliverMail();
  return t.mails.filter((m) => m.to.toLowerCase() === to.toLowerCase());
}

/** POST /auth/change-password from a signed-in device. */
export function changePassword(
  t: TestApp,
  device: Device,
  currentPassword: string,
  newPassword: string,
) {
  return t.app.inject({
    method: 'POST',
    url: '/auth/change-password',
    headers: device.headers,
    payload: { currentPassword, newPassword },
  });
}

/** POST /auth/forgot-password. */
export function forgotPassword(t: TestApp, email: string) {
  return t.app.inject({ method: 'POST', url: '/auth/forgot-password', payload: { email } });
}

/** POST /auth/reset-password with the token of a reset mail. */
export function resetPassword(t: TestApp, token: string, password: string) {
  return t.app.inject({
    method: 'POST',
    url: '/auth/reset-password',
    payload: { token, password },
  });
}

/** POST /auth/token: an access and refresh token pair for the user's password. */
export async function tokenPair(
  t: Pick<TestInstance, 'app'>,
  email: string,
  password = STRONG_PASSWORD,
) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/auth/token',
    payload: { email, password },
  });
  if (res.statusCode !== 200) throw new Error(`token: ${res.statusCode} ${res.body}`);
  return res.json() as { accessToken: string; refreshToken: string };
}

/** GET /auth/me with a bearer access token. */
export function bearerMe(t: Pick<TestInstance, 'app'>, accessToken: string) {
  return t.app.inject({
    method: 'GET',
    url: '/auth/me',
    headers: { authorization: `Bearer ${accessToken}` },
  });
}
