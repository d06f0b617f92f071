import { PassThrough } from 'node:stream';
import { type Env, loadConfig } from '../../src/config/config.js';
import { createLatchkey, type Latchkey } from '../../src/app/latchkey.js';
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
class CapturingTransport implements MailTransport {
  readonly sent: MailMessage[] = [];
  async send(message: MailMessage) {
    this.sent.push(message);
  }
}

export interface TestApp extends Latchkey {
  clock: TestClock;
  /** Mails delivered so far (call `deliverMail()` first). */
  mails: MailMessage[];
  /** Runs the outbox worker once, as the background loop would. */
  deliverMail(): Promise<void>;
  /** The token from the newest mail to `to` carrying a `?token=` link (delivers first). */
  tokenFromLatestMail(to: string): Promise<string>;
  logs: () => string;
}

export const STRONG_PASSWORD = 'correct horse battery staple vortex';

export async function createTestApp(backend: Backend, env: Env = {}): Promise<TestApp> {
  const database = await createTestDatabase(backend);
  const clock = new TestClock();
  const transport = new CapturingTransport();
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    PUBLIC_URL: 'http://localhost:3000',
    // Suites sign in many times from one address; rate-limit suites set their own limits.
    RATE_LIMITS: 'off',
    // Token mode: a fixed secret, so no key file is written into the working directory.
    KEY_ENCRYPTION_SECRET: 'test-key-encryption-secret-0123456789abcdef',
    ...(env as Record<string, string>),
  });
  let output = '';
  const logStream = new PassThrough();
  logStream.on('data', (chunk) => {
    output += chunk;
  });
  const latchkey = await createLatchkey(config, {
    database,
    clock: clock.now,
    mailTransport: transport,
    logStream,
    startMailWorker: false,
  });
  await latchkey.app.ready();
  const deliverMail = async () => {
    await latchkey.account.settled(); // forgot-password writes its mail after answering
    await latchkey.worker.runOnce();
  };
  return {
    ...latchkey,
    clock,
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
    async close() {
      await latchkey.close();
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
