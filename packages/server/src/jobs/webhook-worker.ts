import type { Kysely } from 'kysely';
import { type Clock, systemClock } from '../core/clock.js';
import { signingSecrets, webhookHeaders } from '../core/webhooks.js';
import { recordAuditEvent } from '../store/audit.js';
import type { Database } from '../store/schema.js';
import {
  type ClaimedDelivery,
  claimDueDeliveries,
  markDeliveryAttemptFailed,
  markDeliveryDelivered,
  releaseDelivery,
} from '../store/webhook-deliveries.js';
import { markEndpointFailing, markEndpointHealthy } from '../store/webhook-endpoints.js';
import { describeError, type OutboxWorkerLogger } from './outbox-worker.js';
import { sendWebhook, WebhookSendError } from './webhook-sender.js';

/** What became of one attempt (the metric's label). */
export type DeliveryOutcome = 'delivered' | 'retrying' | 'failed';

export interface WebhookWorkerOptions {
  db: Kysely<Database>;
  clock?: Clock;
  logger: OutboxWorkerLogger;
  /** deriveEncryptionKeys().webhookSecrets */
  secretKey: Buffer;
  /** WEBHOOK_TIMEOUT in ms. */
  timeoutMs: number;
  /** WEBHOOK_RETRY_PERIOD: a delivery failing this long after its event is marked failed. */
  retryPeriodSeconds: number;
  /** WEBHOOK_DISABLE_AFTER: an endpoint failing this long is disabled. */
  disableAfterSeconds: number;
  allowPrivateNetworks: boolean;
  /** Pause between passes when idle; default 1000 ms. */
  pollIntervalMs?: number;
  /** Deliveries claimed (and sent in parallel) at once; default 10. */
  batchSize?: number;
  /** Delay before retry number `attempt` + 1; default defaultWebhookBackoff. */
  backoff?: (attempt: number) => number;
  /** How long stop() lets attempts in flight finish before cutting them off; default 2 s. */
  stopTimeoutMs?: number;
  /** Told of every attempt's outcome (metrics). */
  onOutcome?: (outcome: DeliveryOutcome) => void;
}

const BACKOFF_BASE_MS = 5_000;
const BACKOFF_CAP_MS = 2 * 3600_000;

/**
 * 5 s, tripling per failed attempt, capped at 2 hours, each drawn within ±20% so that deliveries
 * failed together (a receiver outage) do not all come back in the same second. Over the default
 * 24-hour retry period that is about 17 attempts.
 */
export function defaultWebhookBackoff(attempt: number): number {
  const exponential = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 3 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (0.8 + Math.random() * 0.4));
}

/**
 * Sends webhook deliveries. Any number of workers in any number of processes sharing the
 * database may run (claims and leases: store/webhook-deliveries.ts); within one worker passes
 * never overlap, and the deliveries of one claimed batch are sent in parallel, so one hanging
 * receiver costs at most one timeout per batch, not one per delivery.
 */
export class WebhookWorker {
  private readonly clock: Clock;
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  private readonly backoff: (attempt: number) => number;
  private readonly leaseMs: number;
  private readonly stopTimeoutMs: number;
  private running = false;
  private stopping = false;
  private abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<number> | undefined;
  private rerun = false;
  /** Set after construction by the metrics plugin. */
  onOutcome: ((outcome: DeliveryOutcome) => void) | undefined;

  constructor(private readonly o: WebhookWorkerOptions) {
    this.clock = o.clock ?? systemClock;
    this.pollIntervalMs = o.pollIntervalMs ?? 1000;
    this.batchSize = Math.max(1, o.batchSize ?? 10);
    this.backoff = o.backoff ?? defaultWebhookBackoff;
    // A crash strands deliveries for one attempt's time plus a margin.
    this.leaseMs = o.timeoutMs + 15_000;
    this.stopTimeoutMs = o.stopTimeoutMs ?? 2000;
    this.onOutcome = o.onOutcome;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /**
   * Stops polling. Attempts in flight get `stopTimeoutMs` to finish, then are cut off and their
   * deliveries handed back, due at once, for another instance or the next start.
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

  /** Asks for a pass soon (after an admin queued a test or a retry). */
  nudge(): void {
    if (!this.running) return;
    if (this.current) this.rerun = true;
    else this.schedule(0);
  }

  /** One pass now (after the one in flight); returns the attempts made. */
  async runOnce(): Promise<number> {
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
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      await this.runOnce();
    } catch (error) {
      this.o.logger.error({ err: describeError(error) }, 'Webhook delivery pass failed');
    }
    if (this.running && !this.timer) this.schedule(this.pollIntervalMs);
  }

  private async pass(): Promise<number> {
    let attempts = 0;
    for (;;) {
      if (this.stopping) break;
      const batch = await claimDueDeliveries(this.o.db, this.clock(), this.batchSize, this.leaseMs);
      const results = await Promise.all(batch.map((d) => this.deliver(d)));
      attempts += results.filter((r) => r !== 'released').length;
      if (batch.length < this.batchSize || results.includes('released')) break;
    }
    return attempts;
  }

  /** Database errors propagate (they end the pass). */
  private async deliver(delivery: ClaimedDelivery): Promise<DeliveryOutcome | 'released'> {
    const { db } = this.o;
    if (this.stopping) {
      await releaseDelivery(db, delivery, this.clock());
      return 'released';
    }
    const { signal } = this.abort;
    const sentAt = this.clock();
    let statusCode: number | null = null;
    let failure: unknown;
    try {
      const secrets = signingSecrets(
        this.o.secretKey,
        { ...delivery, id: delivery.endpointId },
        sentAt,
      );
      const timestamp = Math.floor(sentAt.getTime() / 1000);
      const headers = webhookHeaders(secrets, delivery.eventId, timestamp, delivery.body);
      statusCode = (
        await sendWebhook(delivery.url, headers, delivery.body, {
          timeoutMs: this.o.timeoutMs,
          allowPrivateNetworks: this.o.allowPrivateNetworks,
          signal,
        })
      ).statusCode;
    } catch (error) {
      failure = error;
      if (error instanceof WebhookSendError) statusCode = error.statusCode;
    }
    const now = this.clock();
    if (failure === undefined) {
      await markDeliveryDelivered(db, delivery.id, { statusCode: statusCode as number, now });
      await markEndpointHealthy(db, delivery.endpointId);
      this.onOutcome?.('delivered');
      return 'delivered';
    }
    if (signal.aborted) {
      // Cut off by stop(): not an attempt; another instance or the next start sends it.
      await releaseDelivery(db, delivery, now);
      return 'released';
    }
    const attempt = delivery.attempts + 1;
    const error = describeError(failure);
    const giveUp = now.getTime() - delivery.createdAt.getTime() >= this.o.retryPeriodSeconds * 1000;
    const retryAt = giveUp ? null : new Date(now.getTime() + Math.max(0, this.backoff(attempt)));
    await markDeliveryAttemptFailed(db, delivery, { statusCode, error, now, retryAt });
    await this.noteEndpointFailure(delivery, error, now);
    const outcome: DeliveryOutcome = giveUp ? 'failed' : 'retrying';
    this.onOutcome?.(outcome);
    this.o.logger.warn(
      {
        deliveryId: delivery.id,
        eventId: delivery.eventId,
        attempt,
        statusCode,
        err: error,
        retryAt: retryAt?.toISOString(),
      },
      giveUp ? 'Webhook delivery failed for good' : 'Webhook attempt failed, will retry',
    );
    return outcome;
  }

  private async noteEndpointFailure(delivery: ClaimedDelivery, error: string, now: Date) {
    const days = this.o.disableAfterSeconds / 86400;
    const period = Number.isInteger(days)
      ? `${days} days`
      : `${this.o.disableAfterSeconds / 3600} hours`;
    const reason = `Every delivery failed for ${period}; the last error: ${error}`;
    // The disable and its audit row together: admins never see one without the other.
    const disabled = await this.o.db.transaction().execute(async (trx) => {
      const row = await markEndpointFailing(
        trx,
        delivery.endpointId,
        now,
        new Date(now.getTime() - this.o.disableAfterSeconds * 1000),
        reason,
      );
      if (row) {
        await recordAuditEvent(
          trx,
          { type: 'webhook.disabled', data: { webhookId: row.id, reason } },
          now,
        );
      }
      return row;
    });
    if (!disabled) return;
    this.o.logger.error({ webhookId: disabled.id, reason }, 'Webhook endpoint disabled');
  }
}
