import type { FastifyInstance } from 'fastify';
import { type AbuseProtection, startAbuseProtection } from './abuse.js';
import { type Config, ConfigError, servesDevMailbox } from '../config/config.js';
import { AccountService } from '../core/account.js';
import { AdminService } from '../core/admin.js';
import { AuthError } from '../core/errors.js';
import { RefusedRequestAudit } from '../core/refused-requests.js';
import { KeyDecryptionError } from '../core/keys.js';
import { RetentionWorker } from '../jobs/retention.js';
import { AuthService } from '../core/auth.js';
import { type Clock, systemClock } from '../core/clock.js';
import { DeviceCookies } from '../core/device-cookies.js';
import { deriveEncryptionKeys } from '../core/keys.js';
import { configuredPasswordPolicy } from '../core/password-policy.js';
import { PasswordHasher } from '../core/passwords.js';
import { buildApp } from '../http/app.js';
import { OutboxWorker } from '../jobs/outbox-worker.js';
import { WebhookWorker } from '../jobs/webhook-worker.js';
import { WebhookService } from '../core/webhooks.js';
import { deliveryBacklog, releaseAllPendingDeliveries } from '../store/webhook-deliveries.js';
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
import { countMailsByStatus, releaseAllPendingMails } from '../store/outbox.js';
import { createTokenMode, type TokenMode } from './token-mode.js';
import { SessionIssuer } from '../core/session-issuer.js';
import { Factors } from '../core/factors.js';
import { MfaService } from '../core/mfa.js';
import { SecondStep } from '../core/second-step.js';
import type { TokenServiceOptions } from '../core/tokens-service.js';

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
  /** The webhook worker (default: on); tests may run it by hand with `webhookWorker.runOnce()`. */
  startWebhookWorker?: boolean;
  /** Webhook worker options for tests (poll interval, backoff). */
  webhookWorker?: { pollIntervalMs?: number; backoff?: (attempt: number) => number };
}

export interface Latchkey {
  app: FastifyInstance;
  database: DatabaseHandle;
  auth: AuthService;
  /** Token mode: access JWTs, refresh tokens, signing keys. */
  tokens: TokenMode;
  account: AccountService;
  /** Second factors of the signed-in user, recent authentication, the MFA policy. */
  mfa: MfaService;
  hasher: PasswordHasher;
  worker: OutboxWorker;
  devMailbox: DevMailbox | undefined;
  /** Rate limits, login throttle (`abuse.throttle.clear(email)`), session cache. */
  abuse: AbuseProtection;
  /** Roles, user administration, the audit trail, the bootstrap admin. */
  admin: AdminService;
  /** The audit and mail retention purge (`retention.runOnce()` in tests). */
  retention: RetentionWorker;
  /** Webhook endpoints (admin API, CLI). */
  webhooks: WebhookService;
  /** Sends webhook deliveries. */
  webhookWorker: WebhookWorker;
  /** SIGTERM's first step: `/readyz` answers 503 and answers close their connection. */
  startDraining(): void;
  /** Stops taking requests, drains them, stops the mail worker and closes what it opened. */
  close(): Promise<void>;
}

/**
 * What a start has opened so far, closed in the reverse order: by `close()`, and by a start
 * that fails part-way, so that a refused start leaves no open database, pool or timer behind.
 */
class OpenedResources {
  private readonly closers: (() => Promise<void>)[] = [];

  /** Registers how to close what was just opened. */
  add(close: () => Promise<void> | void): void {
    this.closers.push(async () => close());
  }

  /** Closes everything, newest first, even when one fails; then rethrows the first failure. */
  async closeAll(): Promise<void> {
    let failure: { error: unknown } | undefined;
    for (const close of this.closers.splice(0).reverse()) {
      try {
        await close();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  }
}

/** The start error an operator can act on, for the failures that a setting explains. */
function explainStartError(config: Config, error: unknown): unknown {
  if (error instanceof KeyDecryptionError) {
    const source = config.jwt.keyEncryptionSecret
      ? 'KEY_ENCRYPTION_SECRET'
      : `${config.dataDir}/key-encryption.key (KEY_ENCRYPTION_SECRET is not set)`;
    return new ConfigError([
      `KEY_ENCRYPTION_SECRET does not match the signing keys in the database: the current key ${error.kid} cannot be decrypted with ${source}. Set KEY_ENCRYPTION_SECRET to the secret the keys were encrypted with (the same on every instance). If that secret is lost, run \`latchkey keys rotate\` with the new secret: it makes a new signing key, and tokens signed by the old one keep verifying until they expire.`,
    ]);
  }
  if (error instanceof BootstrapRefused) {
    return new ConfigError([`BOOTSTRAP_ADMIN_PASSWORD is refused: ${error.cause.message}`]);
  }
  return error;
}

/** The bootstrap admin's password was refused by the policy (a configuration error). */
class BootstrapRefused extends Error {
  constructor(override readonly cause: AuthError) {
    super(cause.message);
  }
}

/** The composition root: wires store, core, mail and http from one configuration. */
export async function createLatchkey(
  config: Config,
  options: LatchkeyOptions = {},
): Promise<Latchkey> {
  const opened = new OpenedResources();
  try {
    return await start(config, options, opened);
  } catch (error) {
    await opened.closeAll().catch(() => {});
    throw explainStartError(config, error);
  }
}

/** Opens the database, then builds every part on it; `opened` learns each thing to close. */
async function openStore(
  config: Config,
  options: LatchkeyOptions,
  opened: OpenedResources,
  clock: Clock,
  log: ReturnType<typeof createLogger>,
): Promise<DatabaseHandle> {
  const handle = options.database ?? (await openDatabase(config, (message) => log.warn(message)));
  if (!options.database) opened.add(() => handle.close());
  await migrate(handle.db);
  // The embedded database is this process's alone (pid lock): leases in it are a dead run's.
  if (handle.kind === 'pglite') {
    await releaseAllPendingMails(handle.db, clock());
    await releaseAllPendingDeliveries(handle.db, clock());
  }
  return handle;
}

/** The mail transport and the outbox worker that drains into it. */
function createMail(
  config: Config,
  options: LatchkeyOptions,
  opened: OpenedResources,
  o: { db: DatabaseHandle['db']; clock: Clock; log: ReturnType<typeof createLogger> },
) {
  const { log } = o;
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
  opened.add(() => transport.close?.());
  const worker = new OutboxWorker({
    db: o.db,
    transport,
    from: config.mailFrom,
    clock: o.clock,
    logger: log,
    ...(options.mailPollIntervalMs ? { pollIntervalMs: options.mailPollIntervalMs } : {}),
  });
  opened.add(() => worker.stop());
  return { devMailbox, holdMail, worker };
}

/** Creates the bootstrap admin when configured; a refused password is a configuration error. */
async function bootstrapAdmin(
  config: Config,
  admin: AdminService,
  log: { info: (m: string) => void; warn: (m: string) => void },
  mfaRequired: boolean,
) {
  const wanted = config.admin.bootstrapAdmin;
  if (!wanted) return;
  let outcome: Awaited<ReturnType<AdminService['bootstrap']>>;
  try {
    outcome = await admin.bootstrap(wanted);
  } catch (error) {
    if (error instanceof AuthError) throw new BootstrapRefused(error);
    throw error;
  }
  if (outcome === 'created') {
    log.info(
      mfaRequired
        ? `Created the bootstrap admin ${wanted.email}. MFA_REQUIRED_ROLES includes admin: the admin API answers 403 mfa_enrollment_required until this admin sets up a second factor (authenticator app or passkey) on the account page and signs in with it.`
        : `Created the bootstrap admin ${wanted.email}`,
    );
  }
  if (outcome === 'account_exists') {
    log.warn(
      `BOOTSTRAP_ADMIN_EMAIL: ${wanted.email} already has an account, which was left as it is (no admin was created). Use latchkey users set-roles to make it an admin.`,
    );
  }
}

async function start(
  config: Config,
  options: LatchkeyOptions,
  opened: OpenedResources,
): Promise<Latchkey> {
  const clock = options.clock ?? systemClock;
  const log = createLogger(config.logLevel, options.logStream);
  const handle = await openStore(config, options, opened, clock, log);
  const hasher = new PasswordHasher(config.argon2, config.hashing);
  opened.add(() => hasher.close());
  const policy = configuredPasswordPolicy(config.password, config.serviceName, hasher, (message) =>
    log.warn(message),
  );
  const abuse = await startAbuseProtection(config, handle, { clock, log });
  opened.add(() => abuse.close());
  // Every service uses the handle whose revocations reach the session cache.
  const database: DatabaseHandle = { ...handle, db: abuse.db };
  const db = database.db;
  // Read once: the signing keys and the device cookies both derive their keys from it, so a
  // device cookie checks on every instance and after a restart.
  const secret = resolveKeyEncryptionSecret(config);
  const encryptionKeys = deriveEncryptionKeys(secret.secret);
  const deviceCookies = new DeviceCookies({ key: encryptionKeys.deviceCookies, clock });
  const webhookWorker = new WebhookWorker({
    db,
    clock,
    logger: log,
    secretKey: encryptionKeys.webhookSecrets,
    timeoutMs: config.webhooks.timeoutMs,
    retryPeriodSeconds: config.webhooks.retryPeriodSeconds,
    disableAfterSeconds: config.webhooks.disableAfterSeconds,
    allowPrivateNetworks: config.webhooks.allowPrivateNetworks,
    ...options.webhookWorker,
  });
  opened.add(() => webhookWorker.stop());
  const webhooks = new WebhookService({
    db,
    clock,
    secretKey: encryptionKeys.webhookSecrets,
    allowPrivateNetworks: config.webhooks.allowPrivateNetworks,
    onQueued: () => webhookWorker.nudge(),
  });
  const { devMailbox, holdMail, worker } = createMail(config, options, opened, { db, clock, log });
  const mail = { serviceName: config.serviceName, publicUrl: config.publicUrl };
  const sessionIssuer = new SessionIssuer(config.session);
  const factors = new Factors({
    db,
    clock,
    totpKey: encryptionKeys.totpSecrets,
    recoveryKey: encryptionKeys.recoveryCodes,
    // WebAuthn: the RP ID is PUBLIC_URL's host name, the origin its origin.
    rp: {
      id: config.publicUrl.hostname,
      origin: config.publicUrl.origin,
      name: config.serviceName,
    },
  });
  const secondStep = new SecondStep({
    db,
    clock,
    factors,
    throttle: abuse.mfaThrottle,
    requireEmailVerification: config.requireEmailVerification,
  });
  const auth = new AuthService({
    db,
    hasher,
    policy,
    clock,
    mail,
    sessions: config.session,
    requireEmailVerification: config.requireEmailVerification,
    verifyEmailTtlSeconds: config.tokens.verifyEmailTtlSeconds,
    onMailQueued: () => worker.nudge(),
    onBackgroundError: (err, message) => log.error({ err }, message),
    throttle: abuse.throttle,
    deviceCookies,
    sessionCache: abuse.sessionCache,
    issuer: sessionIssuer,
    secondStep,
  });
  const verifyCredentials: TokenServiceOptions['verifyCredentials'] = (input, ctx) =>
    auth.verifyCredentials(input, ctx);
  const account = new AccountService({
    db,
    policy,
    clock,
    mail,
    resetPasswordTtlSeconds: config.tokens.resetPasswordTtlSeconds,
    changeEmailTtlSeconds: config.tokens.verifyEmailTtlSeconds,
    verifyCredentials,
    rotateSession: (trx, sessionId, reason, ctx, now) =>
      sessionIssuer.rotate(trx, sessionId, reason, ctx, now),
    onMailQueued: () => worker.nudge(),
    onBackgroundError: (err, message) => log.error({ err }, message),
    throttle: abuse.throttle,
    accountLimits: abuse.accountLimits,
  });
  opened.add(() => account.settled()); // reset links still being written
  opened.add(() => auth.settled()); // resent verification links too
  const tokens = await createTokenMode(config, {
    db,
    verifyCredentials,
    sessionIssuer,
    secondStep,
    sessionCache: abuse.sessionCache,
    clock,
    secret,
  });
  const mfa = new MfaService({
    db,
    clock,
    factors,
    mail,
    reauthMaxAgeSeconds: config.mfa.reauthMaxAgeSeconds,
    requiredRoles: config.mfa.requiredRoles,
    verifyCredentials,
    throttle: abuse.mfaThrottle,
    onMailQueued: () => worker.nudge(),
  });
  const admin = new AdminService({
    db,
    clock,
    policy,
    resetLinks: account,
    mail,
    onMailQueued: () => worker.nudge(),
  });
  await bootstrapAdmin(config, admin, log, config.mfa.requiredRoles.includes('admin'));
  // The migrations just added table files, which PGlite made world-readable.
  if (database.kind === 'pglite' && !options.database) secureDataDir(config.dataDir);
  const retention = new RetentionWorker({
    db,
    clock,
    auditRetentionSeconds: config.admin.auditRetentionSeconds,
    mailRetentionSeconds: config.admin.mailRetentionSeconds,
    webhookRetentionSeconds: config.webhooks.retentionSeconds,
    sessionRetentionSeconds: config.session.retentionSeconds,
    vacuumAfterPurge: database.kind === 'pglite',
    log,
  });
  opened.add(() => retention.stop());
  // Counted per instance, not in the shared store: the bound only has to keep a flood out of
  // the audit table, and shared counters would make every refused request of the flood a
  // database write (or a Redis round trip) again.
  const refusalCounters = new MemoryCounterStore();
  opened.add(() => refusalCounters.close());
  const refusals = new RefusedRequestAudit({ db, clock, counters: refusalCounters });
  let draining = false;
  const app = await buildApp({
    config,
    auth,
    deviceCookies,
    tokens,
    account,
    mfa,
    secondStep,
    readiness: { database: () => database.ping(), ...abuse.readiness },
    draining: () => draining,
    abuse,
    devMailbox,
    logger: log,
    admin,
    webhooks,
    refusals,
    metrics: {
      token: config.admin.metricsToken,
      hasher,
      sessionCache: abuse.sessionCache,
      mailStatus: () => countMailsByStatus(db),
      pool: database.poolStats,
      onHashObserver: (observe) => {
        hasher.observe = observe;
      },
      webhookBacklog: () => deliveryBacklog(db),
      onWebhookOutcome: (observe) => {
        webhookWorker.onOutcome = observe;
      },
      retention,
    },
  });
  opened.add(() => app.close());
  if ((options.startMailWorker ?? true) && !holdMail) worker.start();
  if (options.startRetention ?? true) retention.start();
  if (options.startWebhookWorker ?? true) webhookWorker.start();

  return {
    app,
    database,
    auth,
    tokens,
    account,
    mfa,
    hasher,
    worker,
    devMailbox,
    abuse,
    admin,
    retention,
    webhooks,
    webhookWorker,
    startDraining: () => {
      draining = true;
    },
    close: () => opened.closeAll(),
  };
}
