import type { FastifyInstance } from 'fastify';
import { type AbuseProtection, startAbuseProtection } from './abuse.js';
import { type Config, ConfigError, servesDevMailbox } from '../config/config.js';
import { AccountService } from '../core/account.js';
import { AdminService } from '../core/admin.js';
import { AuthError } from '../core/errors.js';
import { RefusedRequestAudit } from '../core/refused-requests.js';
import { KeyDecryptionError } from '../core/keys.js';
import { RetentionWorker } from '../jobs/retention.js';
import { countMailsByStatus } from '../store/admin.js';
import { AuthService } from '../core/auth.js';
import { type Clock, systemClock } from '../core/clock.js';
import { DeviceCookies } from '../core/device-cookies.js';
import { deriveEncryptionKeys } from '../core/keys.js';
import { configuredPasswordPolicy } from '../core/password-policy.js';
import { PasswordHasher } from '../core/passwords.js';
import { buildApp } from '../http/app.js';
import { OutboxWorker } from '../jobs/outbox-worker.js';
import {
  createSmtpTransport,
  DevMailbox,
  heldMailTransport,
  type MailTransport,
} from '../mail/transport.js';
import { resolveKeyEncryptionSecret } from '../config/key-file.js';
import { createLogger } from './logger.js';
import { secureDataDir } from '../store/data-dir.js';
import { type DatabaseHandle, openDatabase } from '../store/database.js';
import { MemoryCounterStore } from '../store/counters.js';
import { migrate } from '../store/migrate.js';
import { releaseAllPendingMails } from '../store/outbox.js';
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
  /** Rate limits, login throttle (`abuse.throttle.clear(email)`), session cache. */
  abuse: AbuseProtection;
  /** Roles, user administration, the audit trail, the bootstrap admin. */
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
  // Read once: the signing keys and the device cookies both derive their keys from it, so a
  // device cookie checks on every instance and after a restart.
  const secret = resolveKeyEncryptionSecret(config);
  const deviceCookies = new DeviceCookies({
    key: deriveEncryptionKeys(secret.secret).deviceCookies,
    clock,
  });
  const devMailbox = servesDevMailbox(config)
    ? new DevMailbox({ logger: log, logBodies: config.env !== 'production' })
    : undefined;
  // Without SMTP and without a mailbox page, a mail "sent" would be read by nobody: it waits in
  // the outbox, unsent, for a start that has SMTP_URL or serves the dev mailbox.
  const holdMail = !options.mailTransport && !config.smtpUrl && !devMailbox;
  if (holdMail) {
    log.warn(
      `No mail leaves this server: SMTP_URL is not set, and the dev mailbox is not served because HOST=${config.host} is not a loopback address (its page shows live links to anyone who reaches it). Mail waits in the outbox until a start with SMTP_URL, or with HOST=127.0.0.1.`,
    );
  }
  const transport: MailTransport =
    options.mailTransport ??
    (config.smtpUrl ? createSmtpTransport(config.smtpUrl) : (devMailbox ?? heldMailTransport));
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
    deviceCookies,
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
  /** Undoes what was started so far, for a start refused after this point. */
  const abandon = async () => {
    await abuse.close();
    await hasher.close();
    if (!options.database) await database.close();
  };
  let tokens: TokenMode;
  try {
    tokens = await createTokenMode(config, { db: database.db, auth, clock, secret });
  } catch (error) {
    await abandon();
    if (!(error instanceof KeyDecryptionError)) throw error;
    const source = config.jwt.keyEncryptionSecret
      ? 'KEY_ENCRYPTION_SECRET'
      : `${config.dataDir}/key-encryption.key (KEY_ENCRYPTION_SECRET is not set)`;
    throw new ConfigError([
      `KEY_ENCRYPTION_SECRET does not match the signing keys in the database: the current key ${error.kid} cannot be decrypted with ${source}. Set KEY_ENCRYPTION_SECRET to the secret the keys were encrypted with (the same on every instance). If that secret is lost, run \`latchkey keys rotate\` with the new secret: it makes a new signing key, and tokens signed by the old one keep verifying until they expire.`,
    ]);
  }
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
      await abandon();
      throw new ConfigError([`BOOTSTRAP_ADMIN_PASSWORD is refused: ${error.message}`]);
    }
  }
  // The migrations just added table files, which PGlite made world-readable.
  if (database.kind === 'pglite' && !options.database) secureDataDir(config.dataDir);
  const retention = new RetentionWorker({
    db: database.db,
    clock,
    auditRetentionSeconds: config.admin.auditRetentionSeconds,
    mailRetentionSeconds: config.admin.mailRetentionSeconds,
    log,
  });
  // Counted per instance, not in the shared store: the bound only has to keep a flood out of
  // the audit table, and shared counters would make every refused request of the flood a
  // database write (or a Redis round trip) again.
  const refusalCounters = new MemoryCounterStore();
  const refusals = new RefusedRequestAudit({ db: database.db, clock, counters: refusalCounters });
  const app = await buildApp({
    config,
    auth,
    deviceCookies,
    tokens,
    account,
    readiness: { database: () => database.ping(), ...abuse.readiness },
    abuse,
    devMailbox,
    logger: log,
    admin,
    refusals,
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
  if ((options.startMailWorker ?? true) && !holdMail) worker.start();
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
      await refusalCounters.close();
      await worker.stop();
      await transport.close?.();
      await hasher.close();
      if (!options.database) await database.close();
    },
  };
}
