import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { AuthService } from './core/auth.js';
import { type Clock, systemClock } from './core/clock.js';
import { createPasswordPolicy } from './core/password-policy.js';
import { PasswordHasher } from './core/passwords.js';
import { buildApp } from './http/app.js';
import { OutboxWorker } from './mail/outbox-worker.js';
import { createSmtpTransport, DevMailbox, type MailTransport } from './mail/transport.js';
import { createLogger } from './logger.js';
import { type DatabaseHandle, openDatabase } from './store/database.js';
import { migrate } from './store/migrate.js';

export interface LatchkeyOptions {
  /** An open database to use (tests); otherwise one is opened from the config and owned. */
  database?: DatabaseHandle;
  clock?: Clock;
  /** Replaces SMTP / the dev mailbox (tests). */
  mailTransport?: MailTransport;
  logStream?: NodeJS.WritableStream;
  /** Mail worker poll interval; tests run it by hand with `worker.runOnce()`. */
  mailPollIntervalMs?: number;
  startMailWorker?: boolean;
}

export interface Latchkey {
  app: FastifyInstance;
  database: DatabaseHandle;
  auth: AuthService;
  hasher: PasswordHasher;
  worker: OutboxWorker;
  devMailbox: DevMailbox | undefined;
  /** Stops taking requests, drains them, stops the mail worker and closes what it opened. */
  close(): Promise<void>;
}

/** The composition root: wires store, core, mail and http from one configuration. */
export async function createLatchkey(
  config: Config,
  options: LatchkeyOptions = {},
): Promise<Latchkey> {
  const database = options.database ?? (await openDatabase(config));
  try {
    await migrate(database.db);
  } catch (error) {
    if (!options.database) await database.close();
    throw error;
  }
  const clock = options.clock ?? systemClock;
  const hasher = new PasswordHasher(config.argon2, config.hashing);
  const policy = createPasswordPolicy({
    minLength: config.password.minLength,
    minScore: config.password.minScore,
    serviceName: config.serviceName,
  });

  const log = createLogger(config.logLevel, options.logStream);
  const devMailbox = config.smtpUrl
    ? undefined
    : new DevMailbox({ logger: log, logBodies: config.env !== 'production' });
  const transport: MailTransport =
    options.mailTransport ??
    (config.smtpUrl ? createSmtpTransport(config.smtpUrl) : (devMailbox as DevMailbox));
  const worker = new OutboxWorker({
    db: database.db,
    transport,
    from: config.mailFrom,
    clock,
    logger: log,
    ...(options.mailPollIntervalMs ? { pollIntervalMs: options.mailPollIntervalMs } : {}),
  });
  const auth = new AuthService({
    db: database.db,
    hasher,
    policy,
    clock,
    mail: { serviceName: config.serviceName, publicUrl: config.publicUrl },
    sessions: config.session,
    requireEmailVerification: config.requireEmailVerification,
    verifyEmailTtlSeconds: config.tokens.verifyEmailTtlSeconds,
    onMailQueued: () => worker.nudge(),
  });
  const app = await buildApp({
    config,
    auth,
    readiness: { database: () => database.ping() },
    devMailbox,
    logger: log,
  });
  if (options.startMailWorker ?? true) worker.start();

  return {
    app,
    database,
    auth,
    hasher,
    worker,
    devMailbox,
    async close() {
      await app.close();
      await worker.stop();
      await transport.close?.();
      if (!options.database) await database.close();
    },
  };
}
