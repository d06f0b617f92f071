import { PassThrough } from 'node:stream';
import { type Config, type Env, loadConfig } from '../../src/config/config.js';
import { createLatchkey, type Latchkey, type LatchkeyOptions } from '../../src/app/latchkey.js';
import type { MailMessage, MailTransport } from '../../src/mail/transport.js';
import { type Backend, createTestDatabase } from './db.js';

/** A clock the test moves by hand (expiry tests), starting at the real time. */
export class TestClock {
  private current = Date.now();
  readonly now = () => new Date(this.current);
  advance(seconds: number) {
    this.current += seconds * 1000;
  }
}

/** Keeps every mail the outbox worker sends. */
export class CapturingTransport implements MailTransport {
  readonly sent: MailMessage[] = [];
  async send(message: MailMessage) {
    this.sent.push(message);
  }
}

/** A Latchkey whose mail and logs the test reads. */
export interface TestInstance extends Latchkey {
  /** Mails delivered so far (call `deliverMail()` first); shared by instances sharing a transport. */
  mails: MailMessage[];
  /** Runs this instance's outbox worker once, as the background loop would. */
  deliverMail(): Promise<void>;
  /** The token from the newest mail to `to` carrying a `?token=` link (delivers first). */
  tokenFromLatestMail(to: string): Promise<string>;
  logs: () => string;
}

export interface TestApp extends TestInstance {
  clock: TestClock;
}

export const STRONG_PASSWORD = 'correct horse battery staple vortex';

/** What every test instance is configured with; a suite's own settings go on top. */
const TEST_ENV = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'info',
  PUBLIC_URL: 'http://localhost:3000',
  // Suites sign in many times from one address; rate-limit suites set their own limits.
  RATE_LIMITS: 'off',
  // Token mode: a fixed secret, so no key file is written into the working directory.
  KEY_ENCRYPTION_SECRET: 'test-key-encryption-secret-0123456789abcdef',
  // Suites of other features sign admins in by password alone; the second-factor suites turn
  // the policy back on (its default is `admin`).
  MFA_REQUIRED_ROLES: '',
};

export const testConfig = (env: Env = {}) =>
  loadConfig({ ...TEST_ENV, ...(env as Record<string, string>) });

/**
 * Starts a Latchkey on `config` with its mail going to `transport` (the worker runs only when
 * the test asks) and its logs kept in memory.
 */
export async function startTestInstance(
  config: Config,
  transport: CapturingTransport,
  options: Omit<LatchkeyOptions, 'mailTransport' | 'logStream' | 'startMailWorker'> = {},
): Promise<TestInstance> {
  let output = '';
  const logStream = new PassThrough();
  logStream.on('data', (chunk) => {
    output += chunk;
  });
  const latchkey = await createLatchkey(config, {
    // Webhook tests run the worker by hand (`webhookWorker.runOnce()`) unless they ask for it.
    startWebhookWorker: false,
    ...options,
    mailTransport: transport,
    logStream,
    startMailWorker: false,
  });
  await latchkey.app.ready();
  const deliverMail = async () => {
    // forgot-password and resend-verification write their mail after answering
    await Promise.all([latchkey.account.settled(), latchkey.auth.settled()]);
    await latchkey.worker.runOnce();
  };
  return {
    ...latchkey,
    mails: transport.sent,
    deliverMail,
    async tokenFromLatestMail(to: string) {
      await deliverMail();
      const mail = transport.sent.filter((m) => m.to.toLowerCase() === to.toLowerCase()).at(-1);
      const token = mail?.text.match(/[?&]token=([A-Za-z0-9_-]{43})/)?.[1];
      if (!token) throw new Error(`no mail with a token was sent to ${to}`);
      return token;
    },
    logs: () => output,
  };
}

export async function createTestApp(backend: Backend, env: Env = {}): Promise<TestApp> {
  const database = await createTestDatabase(backend);
  const clock = new TestClock();
  const instance = await startTestInstance(testConfig(env), new CapturingTransport(), {
    database,
    clock: clock.now,
  });
  return {
    ...instance,
    clock,
    async close() {
      await instance.close();
      await database.close();
    },
  };
}

/** The `name=value` pair of a Set-Cookie header, ready to send back as Cookie. */
export function cookieFrom(setCookie: string | string[] | undefined): string {
  const header = [setCookie ?? []].flat()[0];
  if (!header) throw new Error('no Set-Cookie header');
  return header.split(';')[0] as string;
}
