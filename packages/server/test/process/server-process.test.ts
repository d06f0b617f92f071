import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../src/store/database.js';
import { STRONG_PASSWORD } from '../support/app.js';
import { signedBy, WebhookReceiver } from '../support/webhook-receiver.js';

/**
 * The real `latchkey` binary on the embedded default: durability across kill -9, the data-dir
 * lock a second process meets, and a graceful SIGTERM.
 */
const serverDir = resolve(import.meta.dirname, '../..');
const cli = join(serverDir, 'dist/cli/main.js');

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolvePort(address.port) : reject(),
      );
    });
  });
}

interface Running {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

async function startServer(dataDir: string, env: Record<string, string> = {}): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, [cli, 'start'], {
    env: {
      ...process.env,
      NODE_ENV: 'development',
      PORT: String(port),
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${output}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) return { child, url, output: () => output, exited };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`server did not become ready:\n${output}`);
}

const post = (url: string, body: unknown) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('the latchkey process on the embedded default', () => {
  let dataDir: string;
  beforeAll(() => {
    execFileSync('npx', ['tsc', '-b'], { cwd: serverDir, stdio: 'inherit' });
    dataDir = mkdtempSync(join(tmpdir(), 'latchkey-proc-'));
  }, 120_000);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('keeps an acknowledged registration across kill -9', async () => {
    const first = await startServer(dataDir);
    const email = 'durable@example.com';
    const res = await post(`${first.url}/auth/register`, { email, password: STRONG_PASSWORD });
    expect(res.status).toBe(202);
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await startServer(dataDir);
    try {
      // 403 email_not_verified is only given after the right password: the account survived.
      const login = await post(`${second.url}/auth/login`, { email, password: STRONG_PASSWORD });
      expect(login.status).toBe(403);
      expect(((await login.json()) as { code: string }).code).toBe('email_not_verified');
      // The restarted server sends what the killed one had not (its leases are void at start);
      // if the first one finished sending, nothing comes here and the row below says 'sent'.
      for (let i = 0; i < 30; i++) {
        const { messages } = (await (await fetch(`${second.url}/dev/mail.json`)).json()) as {
          messages: { to: string }[];
        };
        if (messages.some((m) => m.to === email)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
    // The verification mail was queued in the same transaction as the account, and went out:
    // before the kill, or from the restarted server.
    const handle = await openPglite({ dataDir });
    try {
      const mail = await handle.db
        .selectFrom('mail_outbox')
        .select(['status', 'subject'])
        .where('to_address', '=', email)
        .execute();
      expect(mail).toHaveLength(1);
      expect(mail[0]?.subject).toMatch(/confirm/i);
      expect(mail[0]?.status).toBe('sent');
    } finally {
      await handle.close();
    }
  }, 90_000);

  it('delivers after a restart the webhook that was in flight when the process was killed with -9', async () => {
    const webhookDir = mkdtempSync(join(tmpdir(), 'latchkey-proc-hooks-'));
    const receiver = await new WebhookReceiver().start();
    const env = { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', WEBHOOK_TIMEOUT: '60s' };
    try {
      const added = await new Promise<string>((done, fail) => {
        const child = spawn(
          process.execPath,
          [cli, 'webhooks', 'add', '--url', receiver.url, '--events', 'user.created'],
          { env: { ...process.env, DATA_DIR: webhookDir, LOG_LEVEL: 'silent', ...env } },
        );
        let stdout = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stdout += d));
        child.on('exit', (code) => (code === 0 ? done(stdout) : fail(new Error(stdout))));
      });
      const secret = /(whsec_\S+)/.exec(added)?.[1] ?? '';
      expect(secret).toMatch(/^whsec_/);

      // The receiver takes the request and never answers: the delivery is in flight.
      receiver.mode = 'hang';
      const first = await startServer(webhookDir, env);
      const email = 'hooked@example.com';
      expect(
        (await post(`${first.url}/auth/register`, { email, password: STRONG_PASSWORD })).status,
      ).toBe(202);
      for (let i = 0; i < 100 && receiver.received.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(receiver.received).toHaveLength(1);
      first.child.kill('SIGKILL');
      await first.exited;

      // Restarted: the dead run's lease is void, and the same event goes out again.
      receiver.mode = { status: 204 };
      const second = await startServer(webhookDir, env);
      try {
        for (let i = 0; i < 100 && receiver.received.length < 2; i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        second.child.kill('SIGTERM');
        await second.exited;
      }
      const [inFlight, redelivered] = receiver.received;
      expect(redelivered?.id).toBe(inFlight?.id);
      expect(redelivered?.type).toBe('user.created');
      expect(redelivered && signedBy(secret, redelivered)).toBe(true);
      const handle = await openPglite({ dataDir: webhookDir });
      try {
        const rows = await handle.db.selectFrom('webhook_deliveries').select('status').execute();
        expect(rows).toEqual([{ status: 'delivered' }]);
      } finally {
        await handle.close();
      }
    } finally {
      await receiver.stop();
      rmSync(webhookDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('tells a second process that the embedded database is in use, and stops cleanly on SIGTERM', async () => {
    const server = await startServer(dataDir);
    const migrate = spawn(process.execPath, [cli, 'migrate'], {
      env: { ...process.env, DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    migrate.stderr?.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((r) => migrate.on('exit', r));
    expect(code).toBe(1);
    expect(stderr).toMatch(/in use by process \d+/);
    expect(stderr).toMatch(/DATABASE_URL/);

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.output()).toMatch(/SIGTERM/);
    expect(existsSync(join(dataDir, 'latchkey.pid'))).toBe(false);
  }, 90_000);

  it('with SHUTDOWN_DELAY, answers SIGTERM by saying it is not ready and closing connections, serving on until the delay is over', async () => {
    const server = await startServer(dataDir, { SHUTDOWN_DELAY: '3s' });
    const signalled = Date.now();
    server.child.kill('SIGTERM');
    await expect.poll(async () => (await fetch(`${server.url}/readyz`)).status).toBe(503);
    const ready = await fetch(`${server.url}/readyz`);
    expect(await ready.json()).toMatchObject({ code: 'not_ready' });
    // Still serving, but every answer closes its connection so the client goes elsewhere.
    const health = await new Promise<{ status?: number; connection?: string }>((done, fail) => {
      get(`${server.url}/healthz`, (res) => {
        res.resume();
        done({ status: res.statusCode, connection: res.headers.connection });
      }).on('error', fail);
    });
    expect(health).toEqual({ status: 200, connection: 'close' });
    expect(await server.exited).toBe(0);
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(2900);
    expect(server.output()).toMatch(/not ready any more; serving for 3000 ms/);
  }, 90_000);

  it('creates an admin from the CLI (password on stdin) who then signs in over HTTP', async () => {
    const run = (args: string[], input?: string) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
        const child = spawn(process.execPath, [cli, ...args], {
          env: { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'silent' },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout?.on('data', (d) => (stdout += d));
        child.stderr?.on('data', (d) => (stderr += d));
        child.on('exit', (code) => done({ code, stdout, stderr }));
        child.stdin?.end(input ?? '');
      });
    const email = 'root@example.com';
    const created = await run(['create-admin', '--email', email], `${STRONG_PASSWORD}\n`);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/Created the admin root@example.com/);
    expect(created.stdout + created.stderr).not.toContain(STRONG_PASSWORD);
    const again = await run(['create-admin', '--email', email], STRONG_PASSWORD);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already has an account/);
    const weak = await run(['create-admin', '--email', 'weak@example.com'], 'password');
    expect(weak.code).toBe(1);
    const listed = await run(['users', 'list', '--role', 'admin']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/root@example\.com {2}verified {2}roles: admin/);
    expect((await run(['users', 'list', '--bogus'])).code).toBe(2);

    const server = await startServer(dataDir);
    try {
      const login = await post(`${server.url}/auth/login`, { email, password: STRONG_PASSWORD });
      expect(login.status).toBe(200);
      const body = (await login.json()) as { user: { roles: string[] } };
      expect(body.user.roles).toEqual(['admin']);
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      // MFA_REQUIRED_ROLES defaults to admin: signed in by password alone, the admin API
      // waits for a second factor (and the start log said so).
      const users = await fetch(`${server.url}/admin/users`, { headers: { cookie } });
      expect(users.status).toBe(403);
      expect(((await users.json()) as { code: string }).code).toBe('mfa_enrollment_required');
      // While the server holds the embedded database, the CLI says so and exits 1.
      const busy = await run(['users', 'disable', email]);
      expect(busy.code).toBe(1);
      expect(busy.stderr).toMatch(/in use by process \d+/);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  }, 90_000);

  it('proposes argon2 settings with `hash calibrate`, and refuses a bad option with exit 2', () => {
    const out = execFileSync(
      process.execPath,
      [
        cli,
        'hash',
        'calibrate',
        '--target-ms',
        '60000',
        '--max-memory-kib',
        '19456',
        '--runs',
        '1',
      ],
      { env: { ...process.env, DATA_DIR: dataDir }, encoding: 'utf8' },
    );
    expect(out).toMatch(/ARGON2_MEMORY_KIB=19456 ARGON2_ITERATIONS=6 ARGON2_PARALLELISM=1/);
    let error: { status: number; stderr: Buffer } | undefined;
    try {
      execFileSync(process.execPath, [cli, 'hash', 'calibrate', '--max-memory-kib', '1024'], {
        stdio: 'pipe',
      });
    } catch (e) {
      error = e as typeof error;
    }
    expect(error?.status).toBe(2);
    expect(String(error?.stderr)).toMatch(/expected a whole number from 19456/);
  });

  it('stops with a message naming the variable when the configuration is wrong', () => {
    let error: { status: number; stderr: Buffer } | undefined;
    try {
      execFileSync(process.execPath, [cli, 'start'], {
        env: { ...process.env, PORT: 'eighty', DATA_DIR: dataDir },
        stdio: 'pipe',
      });
    } catch (e) {
      error = e as typeof error;
    }
    expect(error?.status).toBe(2);
    expect(String(error?.stderr)).toMatch(/PORT="eighty" is invalid/);
  });

  /** `latchkey start` with `env`, expected to stop before listening: its exit code and stderr. */
  const refusedStart = (env: Record<string, string>) => {
    try {
      execFileSync(process.execPath, [cli, 'start'], {
        env: { ...process.env, LOG_LEVEL: 'silent', ...env },
        stdio: 'pipe',
        timeout: 60_000,
      });
    } catch (e) {
      const error = e as { status: number; stderr: Buffer };
      return { status: error.status, stderr: String(error.stderr) };
    }
    return { status: 0, stderr: '' };
  };

  it('refuses a production start over http, without SMTP_URL or with an open /metrics (exit 2)', async () => {
    const production = {
      NODE_ENV: 'production',
      DATA_DIR: dataDir,
      PORT: String(await freePort()),
      PUBLIC_URL: 'https://auth.example.com',
      SMTP_URL: 'smtp://127.0.0.1:2525',
      METRICS_TOKEN: 'a-metrics-token-of-some-length',
    };
    const http = refusedStart({ ...production, PUBLIC_URL: 'http://auth.example.com' });
    expect(http.status).toBe(2);
    expect(http.stderr).toMatch(/PUBLIC_URL=http:\/\/auth\.example\.com is not https/);
    const noSmtp = refusedStart({ ...production, SMTP_URL: '' });
    expect(noSmtp.status).toBe(2);
    expect(noSmtp.stderr).toMatch(/SMTP_URL is required in production/);
    const openMetrics = refusedStart({ ...production, METRICS_TOKEN: '' });
    expect(openMetrics.status).toBe(2);
    expect(openMetrics.stderr).toMatch(
      /METRICS_TOKEN is required in production.*METRICS_PUBLIC=true/,
    );
  }, 90_000);

  it('refuses to start (exit 2) when the key-encryption secret does not open the signing keys', () => {
    const ownDir = mkdtempSync(join(tmpdir(), 'latchkey-proc-keys-'));
    try {
      // A signing key encrypted with the key file generated into ownDir.
      execFileSync(process.execPath, [cli, 'keys', 'rotate'], {
        env: { ...process.env, DATA_DIR: ownDir, LOG_LEVEL: 'silent' },
        stdio: 'pipe',
      });
      const wrong = refusedStart({
        DATA_DIR: ownDir,
        KEY_ENCRYPTION_SECRET: 'not-the-secret-the-keys-were-encrypted-with',
      });
      expect(wrong.status).toBe(2);
      expect(wrong.stderr).toMatch(/KEY_ENCRYPTION_SECRET does not match the signing keys/);
      expect(wrong.stderr).not.toMatch(/unexpected error/);
    } finally {
      rmSync(ownDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('keeps DATA_DIR private: 0700, nothing in it open to others, tightened at start', async () => {
    const openToOthers = () =>
      execFileSync('find', [dataDir, '-perm', '/077'], { encoding: 'utf8' }).trim();
    chmodSync(dataDir, 0o755);
    execFileSync('chmod', ['-R', 'a+rwX', dataDir]);
    expect(openToOthers()).not.toBe('');
    const server = await startServer(dataDir);
    try {
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      expect(openToOthers()).toBe('');
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    expect(openToOthers()).toBe('');
  }, 90_000);
});
