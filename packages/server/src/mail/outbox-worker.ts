import type { Kysely } from 'kysely';
import { type Clock, systemClock } from '../core/clock.js';
import {
  type ClaimedMail,
  claimDueMails,
  markMailFailedAttempt,
  markMailSent,
  releaseMail,
} from '../store/outbox.js';
import type { Database } from '../store/schema.js';
import { type MailTransport, MailTransportError } from './transport.js';

/** The subset of a pino logger the worker writes to. */
export interface OutboxWorkerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface OutboxWorkerOptions {
  db: Kysely<Database>;
  transport: MailTransport;
  /** The From of every mail (MAIL_FROM). */
  from: string;
  clock?: Clock;
  logger: OutboxWorkerLogger;
  /** Pause between passes when idle; default 2000 ms. */
  pollIntervalMs?: number;
  /** Mails claimed at once; default 10. */
  batchSize?: number;
  /** Failed attempts after which a mail is given up ('failed'); default 20. */
  maxAttempts?: number;
  /** Delay before retry number `attempt` + 1, `attempt` counting from 1; default defaultBackoff. */
  backoff?: (attempt: number) => number;
  /**
   * How long a claimed batch stays reserved for this worker; default 5 min. A mail is only
   * handed to the transport while at least half the lease remains, so one send must take less
   * than half of it (the SMTP transport gives up after 60 s).
   */
  leaseMs?: number;
}

export interface PassResult {
  /** Mails delivered in this pass. */
  sent: number;
  /** Failed attempts in this pass, whether retried later or given up. */
  failed: number;
}

const BACKOFF_BASE_MS = 5_000;
const BACKOFF_CAP_MS = 30 * 60_000;

/**
 * 5 s doubling per failed attempt, capped at 30 min, each delay drawn uniformly within ±20% so
 * that mails failed together (an outage) do not all come back in the same second. With the
 * default 20 attempts a mail is given up after about six hours of failures.
 */
export function defaultBackoff(attempt: number): number {
  const exponential = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempt - 1));
  const jittered = exponential * (0.8 + Math.random() * 0.4);
  return Math.round(Math.min(BACKOFF_CAP_MS, jittered));
}

/**
 * Sends the outbox. Any number of workers, in any number of processes sharing the database, can
 * run at once (see src/store/outbox.ts for the claim and lease); within one worker passes never
 * overlap. A pass claims due mails in batches and sends them one by one until a batch comes back
 * short. Errors of a pass are logged and the next poll tries again; nothing is thrown from the
 * timer.
 */
export class OutboxWorker {
  private readonly db: Kysely<Database>;
  private readonly transport: MailTransport;
  private readonly from: string;
  private readonly clock: Clock;
  private readonly logger: OutboxWorkerLogger;
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  private readonly maxAttempts: number;
  private readonly backoff: (attempt: number) => number;
  private readonly leaseMs: number;

  private running = false;
  private stopping = false;
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<PassResult> | undefined;
  private rerun = false;

  constructor(options: OutboxWorkerOptions) {
    this.db = options.db;
    this.transport = options.transport;
    this.from = options.from;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger;
    this.pollIntervalMs = options.pollIntervalMs ?? 2000;
    this.batchSize = Math.max(1, options.batchSize ?? 10);
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 20);
    this.backoff = options.backoff ?? defaultBackoff;
    this.leaseMs = options.leaseMs ?? 5 * 60_000;
  }

  /** Starts polling, with a first pass right away (picks up what a restart left). Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /**
   * Stops polling and waits for the pass in flight, which ends after its current batch. The
   * transport is the caller's to close.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.rerun = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.stopping = true;
    try {
      while (this.current) await this.current.catch(() => {});
    } finally {
      this.stopping = false;
    }
  }

  /**
   * Asks for a pass soon, e.g. after a request enqueued a mail. Calls coalesce: while a pass
   * runs, one more follows it. Does nothing unless started.
   */
  nudge(): void {
    if (!this.running) return;
    if (this.current) this.rerun = true;
    else this.schedule(0);
  }

  /** One pass now (after the one in flight, if any). Throws if the database fails. */
  async runOnce(): Promise<PassResult> {
    while (this.current) await this.current.catch(() => {});
    const pass = this.pass();
    this.current = pass;
    try {
      return await pass;
    } finally {
      if (this.current === pass) this.current = undefined;
      if (this.rerun && this.running) {
        this.rerun = false;
        this.schedule(0);
      }
    }
  }

  private schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tick();
    }, delayMs);
    // Polling alone must not keep a process alive that is otherwise done.
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      const result = await this.runOnce();
      if (result.sent > 0 || result.failed > 0) {
        this.logger.info({ ...result }, 'Mail outbox pass');
      }
    } catch (error) {
      this.logger.error({ err: describeError(error) }, 'Mail outbox pass failed');
    }
    // A nudge during the pass may have scheduled the next one already.
    if (this.running && !this.timer) this.schedule(this.pollIntervalMs);
  }

  private async pass(): Promise<PassResult> {
    const result: PassResult = { sent: 0, failed: 0 };
    for (;;) {
      const batch = await claimDueMails(this.db, this.clock(), this.batchSize, this.leaseMs);
      let released = false;
      for (const mail of batch) {
        // Past half the lease, a slow send could outlive it and race the worker that takes
        // the row over: hand the rest back instead.
        if (this.clock().getTime() > mail.leaseUntil.getTime() - this.leaseMs / 2) {
          await releaseMail(this.db, mail, this.clock());
          released = true;
          continue;
        }
        if (await this.deliver(mail)) result.sent++;
        else result.failed++;
      }
      // Stopping ends the pass after the batch in hand; released rows wait for the next pass.
      if (batch.length < this.batchSize || released || this.stopping) break;
    }
    return result;
  }

  /** True when delivered. Database errors propagate (they end the pass). */
  private async deliver(mail: ClaimedMail): Promise<boolean> {
    try {
      await this.transport.send({
        from: this.from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
      });
    } catch (error) {
      const attempt = mail.attempts + 1;
      const permanent = error instanceof MailTransportError && error.permanent;
      const giveUp = permanent || attempt >= this.maxAttempts;
      const now = this.clock();
      const retryAt = giveUp ? null : new Date(now.getTime() + Math.max(0, this.backoff(attempt)));
      const lastError = describeError(error);
      await markMailFailedAttempt(this.db, mail, { error: lastError, now, retryAt });
      if (giveUp) {
        this.logger.error(
          { mailId: mail.id, attempt, permanent, err: lastError },
          'Mail given up after a failed attempt',
        );
      } else {
        this.logger.warn(
          { mailId: mail.id, attempt, retryAt: retryAt?.toISOString(), err: lastError },
          'Mail attempt failed, will retry',
        );
      }
      return false;
    }
    await markMailSent(this.db, mail.id, this.clock());
    return true;
  }
}

const MAX_ERROR_LENGTH = 500;

/** One line, bounded, with any credentials of a URL (`scheme://user:pass@`) masked. */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  const clean = text
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi, '$1***@')
    .replace(/\s+/g, ' ')
    .trim();
  return clean.length > MAX_ERROR_LENGTH ? `${clean.slice(0, MAX_ERROR_LENGTH - 1)}…` : clean;
}
