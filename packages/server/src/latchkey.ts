import type { FastifyInstance } from 'fastify';
import { type AbuseProtection, startAbuseProtection } from './abuse.js';
import { type Config, ConfigError } from './config.js';
import { AccountService } from './core/account.js';
import { AdminService } from './core/admin.js';
import { AuthError } from './core/errors.js';
import { RetentionWorker } from './retention.js';
import { countMailsByStatus } from './store/admin.js';
import { AuthService } from './core/auth.js';
import { type Clock, systemClock } from './core/clock.js';
import { configuredPasswordPolicy } from './core/password-policy.js';
import { PasswordHasher } from './core/passwords.js';
import { buildApp } from './http/app.js';
import { OutboxWorker } from './mail/outbox-worker.js';
import { createSmtpTransport, DevMailbox, type MailTransport } from './mail/transport.js';
import { createLogger } from './logger.js';
import { type DatabaseHandle, openDatabase } from './store/database.js';
import { migrate } from './store/migrate.js';
import { releaseAllPendingMails } from './store/outbox.js';
import { createTokenMode, type TokenMode } from './token-mode.js';

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
  /** The background purge of old audit events and mail (default: on, first pass after 1 min). */
  startRetention?: boolean;
}

export interface Latchkey {
  app: FastifyInstance;
  database: DatabaseHandle;
  auth: AuthService;
  /** Token mode: access JWTs, refresh tokens, signing keys. */
  tokens: TokenMode;
  account: AccountService;
  hasher: PasswordHasher;
  worker: OutboxWorker;
  devMailbox: DevMailbox | undefined;
  /** Rate limits, login throttle (`abuse.throttle.clear(email)`), session cache (issue 4). */
  abuse: AbuseProtection;
  /** Roles, user administration, the audit trail, the bootstrap admin (issue 6). */
  admin: AdminService;
  /** The audit and mail retention purge (`retention.runOnce()` in tests). */
  retention: RetentionWorker;
  /** Stops taking requests, drains them, stops the mail worker and closes what it opened. */
  close(): Promise<void>;
}

/** The composition root: wires store, core, mail and http from one configuration. */
export async function createLatchkey(
  config: Config,
  options: LatchkeyOptions = {},
): Promise<Latchkey> {
  // A copy: startAbuseProtection swaps in its `db` (revocations reach the session cache).
  const database = { ...(options.database ?? (await openDatabase(config))) };
  try {
    await migrate(database.db);
  } catch (error) {
    if (!options.database) await database.close();
    throw error;
  }
  const clock = options.clock ?? systemClock;
  // The embedded database is this process's alone (pid lock): leases in it are a dead run's.
  if (database.kind === 'pglite') await releaseAllPendingMails(database.db, clock());
  const hasher = new PasswordHasher(config.argon2, config.hashing);
  const log = createLogger(config.logLevel, options.logStream);
  const policy = configuredPasswordPolicy(config.password, config.serviceName, (message) =>
    log.warn(message),
  );
  const abuse = await startAbuseProtection(config, database, { clock, log });
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
    throttle: abuse.throttle,
    sessionCache: abuse.sessionCache,
  });
  const account = new AccountService({
    db: database.db,
    hasher,
    policy,
    clock,
    mail: { serviceName: config.serviceName, publicUrl: config.publicUrl },
    resetPasswordTtlSeconds: config.tokens.resetPasswordTtlSeconds,
    changeEmailTtlSeconds: config.tokens.verifyEmailTtlSeconds,
    verifyCredentials: (input, ctx) => auth.verifyCredentials(input, ctx),
    rotateSession: (trx, sessionId, reason, ctx, now) =>
      auth.rotateSession(trx, sessionId, reason, ctx, now),
    onMailQueued: () => worker.nudge(),
    onBackgroundError: (err, message) => log.error({ err }, message),
    throttle: abuse.throttle,
  });
  const tokens = await createTokenMode(config, { db: database.db, auth, clock });
  const admin = new AdminService({
    db: database.db,
    clock,
    hasher,
    policy,
    resetLinks: account,
    onMailQueued: () => worker.nudge(),
  });
  if (config.admin.bootstrapAdmin) {
    try {
      const outcome = await admin.bootstrap(config.admin.bootstrapAdmin);
      const email = config.admin.bootstrapAdmin.email;
      if (outcome === 'created') log.info(`Created the bootstrap admin ${email}`);
      if (outcome === 'account_exists') {
        log.warn(
          `BOOTSTRAP_ADMIN_EMAIL: ${email} already has an account, which was left as it is (no admin was created). Use latchkey users set-roles to make it an admin.`,
        );
      }
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      await abuse.close();
      await hasher.close();
      if (!options.database) await database.close();
      throw new ConfigError([`BOOTSTRAP_ADMIN_PASSWORD is refused: ${error.message}`]);
    }
  }
  const retention = new RetentionWorker({
    db: database.db,
    clock,
    auditRetentionSeconds: config.admin.auditRetentionSeconds,
    mailRetentionSeconds: config.admin.mailRetentionSeconds,
    log,
  });
  const app = await buildApp({
    config,
    auth,
    tokens,
    account,
    readiness: { database: () => database.ping(), ...abuse.readiness },
    abuse,
    devMailbox,
    logger: log,
    admin,
    metrics: {
      token: config.admin.metricsToken,
      hasher,
      sessionCache: abuse.sessionCache,
      mailStatus: () => countMailsByStatus(database.db),
      pool: database.poolStats,
      onHashObserver: (observe) => {
        hasher.observe = observe;
      },
    },
  });
  if (options.startMailWorker ?? true) worker.start();
  if (options.startRetention ?? true) retention.start();

  return {
    app,
    database,
    auth,
    tokens,
    account,
    hasher,
    worker,
    devMailbox,
    abuse,
    admin,
    retention,
    async close() {
      await app.close();
      await retention.stop();
      await account.settled(); // reset links still being written
      await abuse.close();
      await worker.stop();
      await transport.close?.();
      await hasher.close();
      if (!options.database) await database.close();
    },
  };
}
