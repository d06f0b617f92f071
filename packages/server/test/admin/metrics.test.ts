import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT_TEST_ENV, login, verifiedUser } from '../support/account.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';

/** The value of one sample line, e.g. `name{a="b"} 3`. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe.each(backends)('/metrics on %s', (backend) => {
  let t: TestApp;
  const TOKEN = 'metrics-token-0123456789';
  beforeAll(async () => {
    t = await createTestApp(backend, {
      ...ACCOUNT_TEST_ENV,
      METRICS_TOKEN: TOKEN,
      // Explicit: on PostgreSQL without Redis the session cache is off by default.
      SESSION_CACHE_TTL: '5s',
    });
  });
  afterAll(() => t.close());

  const scrape = async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    return res.body;
  };

  it('needs the METRICS_TOKEN when one is set', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    const wrong = await t.app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: 'Bearer nope' },
    });
    expect(wrong.statusCode).toBe(401);
  });

  it('exposes the counters after traffic', async () => {
    const { email } = await verifiedUser(t, 'metrics');
    const device = await login(t, email);
    await t.app.inject({ method: 'GET', url: '/auth/me', headers: { cookie: device.cookie } });
    await t.app.inject({ method: 'GET', url: '/auth/me', headers: { cookie: device.cookie } });
    await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: 'definitely the wrong password' },
    });
    await t.app.inject({ method: 'GET', url: '/nothing/here' });
    await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email: 'a@b.example', password: 'correct horse battery staple vortex' },
    });

    const text = await scrape();
    expect(
      sample(text, 'latchkey_http_requests_total', '{method="GET",route="/auth/me",status="200"}'),
    ).toBe(2);
    expect(
      sample(text, 'latchkey_http_requests_total', '{method="GET",route="unmatched",status="404"}'),
    ).toBe(1);
    expect(
      sample(
        text,
        'latchkey_http_request_duration_seconds_count',
        '{method="POST",route="/auth/login",status="401"}',
      ),
    ).toBe(1);
    expect(sample(text, 'latchkey_logins_total', '{method="cookie",outcome="ok"}')).toBe(1);
    expect(sample(text, 'latchkey_logins_total', '{method="cookie",outcome="failed"}')).toBe(1);
    expect(sample(text, 'latchkey_logins_total', '{method="token",outcome="throttled"}')).toBe(0);
    expect(sample(text, 'latchkey_password_hash_seconds_count')).toBeGreaterThanOrEqual(4);
    expect(sample(text, 'latchkey_password_hash_queue_depth')).toBe(0);
    expect(sample(text, 'latchkey_mail_outbox', '{status="pending"}')).toBe(1);
    expect(sample(text, 'latchkey_mail_outbox', '{status="sent"}')).toBe(1);
    expect(sample(text, 'latchkey_mail_outbox', '{status="failed"}')).toBe(0);
    expect(sample(text, 'latchkey_session_cache_hits_total')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'latchkey_session_cache_misses_total')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'latchkey_db_pool_connections', '{state="total"}')).toBeGreaterThanOrEqual(
      1,
    );
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
  });

  it('reports the retention purge: rows deleted by table and the last success', async () => {
    const before = await scrape();
    expect(sample(before, 'latchkey_retention_last_success_timestamp_seconds')).toBe(0);
    expect(sample(before, 'latchkey_retention_failures_total')).toBe(0);
    const { email } = await verifiedUser(t, 'metrics-retention');
    const device = await login(t, email);
    await t.app.inject({ method: 'POST', url: '/auth/logout', headers: device.headers });
    t.clock.advance(8 * 86_400); // past SESSION_RETENTION (7 days)
    const purged = await t.retention.runOnce();
    expect(purged.sessions).toBeGreaterThanOrEqual(1);

    const text = await scrape();
    expect(sample(text, 'latchkey_retention_deleted_rows_total', '{table="sessions"}')).toBe(
      purged.sessions,
    );
    expect(sample(text, 'latchkey_retention_deleted_rows_total', '{table="audit_events"}')).toBe(
      purged.auditEvents,
    );
    expect(sample(text, 'latchkey_retention_deleted_rows_total', '{table="refresh_tokens"}')).toBe(
      purged.refreshTokens,
    );
    expect(sample(text, 'latchkey_retention_last_success_timestamp_seconds')).toBe(
      t.clock.now().getTime() / 1000,
    );
    expect(sample(text, 'latchkey_retention_failures_total')).toBe(0);
  });

  it('counts a failed purge, and keeps the time of the last one that succeeded', async () => {
    const lastSuccess = sample(await scrape(), 'latchkey_retention_last_success_timestamp_seconds');
    // The purge's first table is gone for a moment: the purge fails as on a broken database.
    await sql`alter table audit_events rename to audit_events_away`.execute(t.database.db);
    try {
      t.clock.advance(3600);
      await expect(t.retention.runOnce()).rejects.toThrow(/audit_events/);
    } finally {
      await sql`alter table audit_events_away rename to audit_events`.execute(t.database.db);
    }
    const text = await scrape();
    expect(sample(text, 'latchkey_retention_failures_total')).toBe(1);
    expect(sample(text, 'latchkey_retention_last_success_timestamp_seconds')).toBe(lastSuccess);
  });

  it('counts 429s', async () => {
    const limited = await createTestApp(backend, {
      RATE_LIMITS: 'on',
      RATE_LIMIT_SIGNIN_IP: '1/1h',
    });
    try {
      for (let i = 0; i < 2; i++) {
        await limited.app.inject({
          method: 'POST',
          url: '/auth/login',
          payload: { email: 'x@example.com', password: 'whatever it is' },
        });
      }
      const text = (await limited.app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(sample(text, 'latchkey_rate_limited_total', '{route="/auth/login"}')).toBe(1);
      expect(sample(text, 'latchkey_logins_total', '{method="cookie",outcome="throttled"}')).toBe(
        1,
      );
    } finally {
      await limited.close();
    }
  });
});
