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
import { type MailTransport, MailTransportError, SMTP_SEND_TIMEOUT_MS } from '../mail/transport.js';

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
  /** The longest one send may take; default the SMTP transport's bound (30 s). */
  sendTimeoutMs?: number;
  /**
   * How long a claimed batch stays reserved for this worker; default the send bound + 15 s, so
   * a crash strands mail for well under a minute. A mail is only handed to the transport while
   * a whole send still fits in the lease.
   */
  leaseMs?: number;
  /** How long stop() lets a send in flight finish before aborting it; default 2 s. */
  stopTimeoutMs?: number;
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
  private readonly sendTimeoutMs: number;
  private readonly stopTimeoutMs: number;

  private running = false;
  private abort = new AbortController();
  private stopping = false;
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<PassResult> | undefined;
  private rerun = false;
  /**
   * Mail this worker backed off, with the retry time it set: once a send succeeds again the mail
   * server is back, and they are retried at once instead of after their backoff. The retry time
   * doubles as the claim token, so a row another worker has taken since is left alone.
   */
  private readonly backedOff = new Map<string, Date>();

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
    this.sendTimeoutMs = options.sendTimeoutMs ?? SMTP_SEND_TIMEOUT_MS;
    this.leaseMs = options.leaseMs ?? this.sendTimeoutMs + 15_000;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 2000;
  }

  /** Starts polling, with a first pass right away (picks up what a restart left). Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /**
   * Stops polling; the pass in flight starts no new send and hands its unsent claims back (due
   * at once, for another instance or the next start). A send in flight gets `stopTimeoutMs` to
   * finish, then is aborted and its mail handed back too: a shutdown never waits on a slow mail
   * server. The transport is the caller's to close.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.rerun = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.stopping = true;
    try {
      if (this.current) {
        let timer: NodeJS.Timeout | undefined;
        const finished = await Promise.race([
          this.current.then(
            () => true,
            () => true,
          ),
          new Promise<false>((resolve) => {
            timer = setTimeout(() => resolve(false), this.stopTimeoutMs);
          }),
        ]);
        clearTimeout(timer);
        if (!finished) this.abort.abort();
      }
      while (this.current) await this.current.catch(() => {});
    } finally {
      this.stopping = false;
      this.abort = new AbortController();
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
        // Stopping, or a send that could outlive the lease and race the worker that takes the
        // row over: hand the rest back instead.
        if (
          this.stopping ||
          this.clock().getTime() + this.sendTimeoutMs > mail.leaseUntil.getTime()
        ) {
          await releaseMail(this.db, mail, this.clock());
          released = true;
          continue;
        }
        const outcome = await this.deliver(mail);
        if (outcome === 'sent') result.sent++;
        else if (outcome === 'failed') result.failed++;
      }
      // Released rows (and any left while stopping) wait for the next pass.
      if (released || this.stopping) break;
      if (result.sent > 0 && (await this.retryBackedOff())) continue;
      if (batch.length < this.batchSize) break;
    }
    return result;
  }

  /** Database errors propagate (they end the pass). */
  private async deliver(mail: ClaimedMail): Promise<'sent' | 'failed' | 'released'> {
    const { signal } = this.abort;
    let onAbort = () => {};
    try {
      const message = {
        from: this.from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
      };
      // The race covers a transport that ignores the signal.
      await Promise.race([
        this.transport.send(message, { signal }),
        new Promise<never>((_, reject) => {
          onAbort = () => reject(signal.reason);
          signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } catch (error) {
      if (signal.aborted) {
        // Cut off by stop(): not an attempt of this mail, which another worker may send now.
        await releaseMail(this.db, mail, this.clock());
        return 'released';
      }
      const attempt = mail.attempts + 1;
      const permanent = error instanceof MailTransportError && error.permanent;
      const giveUp = permanent || attempt >= this.maxAttempts;
      const now = this.clock();
      const retryAt = giveUp ? null : new Date(now.getTime() + Math.max(0, this.backoff(attempt)));
      const lastError = describeError(error);
      const recorded = await markMailFailedAttempt(this.db, mail, {
        error: lastError,
        now,
        retryAt,
      });
      if (recorded && retryAt && this.backedOff.size < MAX_REMEMBERED_BACKOFFS) {
        this.backedOff.set(mail.id, retryAt);
      }
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
      return 'failed';
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    await markMailSent(this.db, mail.id, this.clock());
    return 'sent';
  }

  /** Makes the mail this worker backed off due now; true when any was. */
  private async retryBackedOff(): Promise<boolean> {
    if (this.backedOff.size === 0) return false;
    const now = this.clock();
    let any = false;
    for (const [id, retryAt] of this.backedOff) {
      if (await releaseMail(this.db, { id, leaseUntil: retryAt }, now)) any = true;
    }
    this.backedOff.clear();
    return any;
  }
}

// Beyond this many, backed-off mail simply waits out its backoff.
const MAX_REMEMBERED_BACKOFFS = 1000;

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
