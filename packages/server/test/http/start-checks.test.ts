import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { createLatchkey, type Latchkey } from '../../src/app/latchkey.js';
import type { DatabaseHandle } from '../../src/store/database.js';
import { STRONG_PASSWORD } from '../support/app.js';
import { backends, createTestDatabase } from '../support/db.js';

const SECRET = 'test-key-encryption-secret-0123456789abcdef';

/** The real composition on a test database: its own mail transport, logs kept. */
async function start(database: DatabaseHandle, env: Record<string, string>) {
  let logs = '';
  const logStream = new PassThrough();
  logStream.on('data', (chunk) => (logs += chunk));
  const config = loadConfig({ NODE_ENV: 'development', KEY_ENCRYPTION_SECRET: SECRET, ...env });
  const latchkey = await createLatchkey(config, {
    database,
    logStream,
    startRetention: false,
    mailPollIntervalMs: 50,
  });
  await latchkey.app.ready();
  return { latchkey, logs: () => logs };
}

describe.each(backends)('start-time checks on %s', (backend) => {
  let database: DatabaseHandle | undefined;
  const running: Latchkey[] = [];
  afterEach(async () => {
    for (const latchkey of running.splice(0)) await latchkey.close();
    await database?.close();
    database = undefined;
  });

  it('refuses to start when KEY_ENCRYPTION_SECRET does not open the stored signing keys', async () => {
    database = await createTestDatabase(backend);
    const first = await start(database, {});
    await first.latchkey.close();

    const other = 'another-key-encryption-secret-0123456789ab';
    const error = await start(database, { KEY_ENCRYPTION_SECRET: other }).then(
      (started) => {
        running.push(started.latchkey);
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/KEY_ENCRYPTION_SECRET does not match the signing keys/);
    expect(message).toMatch(/latchkey keys rotate/);

    // The right secret still starts, and the JWKS answers.
    const again = await start(database, {});
    running.push(again.latchkey);
    const jwks = await again.latchkey.app.inject({ url: '/.well-known/jwks.json' });
    expect(jwks.statusCode).toBe(200);
  });

  const register = (latchkey: Latchkey, email: string) =>
    latchkey.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email, password: STRONG_PASSWORD },
    });
  const outboxRow = (email: string) =>
    (database as DatabaseHandle).db
      .selectFrom('mail_outbox')
      .select(['status', 'attempts'])
      .where('to_address', '=', email)
      .executeTakeFirstOrThrow();

  it('serves the dev mailbox on a loopback HOST, and sends mail there', async () => {
    database = await createTestDatabase(backend);
    const { latchkey } = await start(database, { HOST: '127.0.0.1' });
    running.push(latchkey);
    const email = 'loopback@example.com';
    expect((await register(latchkey, email)).statusCode).toBe(202);
    await expect.poll(() => outboxRow(email).then((r) => r.status)).toBe('sent');
    const box = await latchkey.app.inject({ url: '/dev/mail.json' });
    expect(box.statusCode).toBe(200);
    expect(box.json().messages.map((m: { to: string }) => m.to)).toContain(email);
  });

  it('never serves the dev mailbox on a non-loopback HOST, nor marks mail sent there', async () => {
    database = await createTestDatabase(backend);
    const { latchkey, logs } = await start(database, { HOST: '0.0.0.0' });
    running.push(latchkey);
    expect((await latchkey.app.inject({ url: '/dev/mail.json' })).statusCode).toBe(404);
    expect((await latchkey.app.inject({ url: '/dev/mail' })).statusCode).toBe(404);
    expect(latchkey.devMailbox).toBeUndefined();
    expect(logs()).toMatch(/dev mailbox is not served.*HOST=0\.0\.0\.0/);

    const email = 'nobody-reads@example.com';
    expect((await register(latchkey, email)).statusCode).toBe(202);
    // Several poll intervals pass: the mail waits for a transport someone can read.
    await new Promise((r) => setTimeout(r, 400));
    expect(await outboxRow(email)).toEqual({ status: 'pending', attempts: 0 });
  });
});
