import type { Kysely } from 'kysely';
import type { Clock } from '../core/clock.js';
import { addSeconds } from '../core/clock.js';
import { purgeAuditEvents } from '../store/audit.js';
import { purgeFinishedMails } from '../store/outbox.js';
import { purgeFinishedWebhookEvents } from '../store/webhook-events.js';
import type { Database } from '../store/schema.js';

export interface RetentionOptions {
  db: Kysely<Database>;
  clock: Clock;
  /** AUDIT_RETENTION */
  auditRetentionSeconds: number;
  /** MAIL_RETENTION: sent and given-up outbox rows. */
  mailRetentionSeconds: number;
  /** WEBHOOK_RETENTION: events whose deliveries are all finished. */
  webhookRetentionSeconds: number;
  log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** Between purges; default one hour. */
  intervalMs?: number;
}

/**
 * The background purge: audit events older than AUDIT_RETENTION, sent or given-up mail older
 * than MAIL_RETENTION and finished webhook events older than WEBHOOK_RETENTION, a first pass a minute after start, then hourly. Every instance
 * may run it: the deletes are idempotent and batched.
 */
export class RetentionWorker {
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<unknown> | undefined;

  constructor(private readonly o: RetentionOptions) {}

  /** One purge now; returns the rows deleted. */
  async runOnce(): Promise<{ auditEvents: number; mails: number; webhookEvents: number }> {
    const now = this.o.clock();
    const auditEvents = await purgeAuditEvents(
      this.o.db,
      addSeconds(now, -this.o.auditRetentionSeconds),
    );
    const mails = await purgeFinishedMails(
      this.o.db,
      addSeconds(now, -this.o.mailRetentionSeconds),
    );
    const webhookEvents = await purgeFinishedWebhookEvents(
      this.o.db,
      addSeconds(now, -this.o.webhookRetentionSeconds),
    );
    return { auditEvents, mails, webhookEvents };
  }

  start(firstDelayMs = 60_000): void {
    const tick = async () => {
      try {
        const work = this.runOnce();
        this.current = work;
        const result = await work;
        if (result.auditEvents + result.mails + result.webhookEvents > 0) {
          this.o.log.info(result, 'Retention purge');
        }
      } catch (error) {
        this.o.log.error({ err: error }, 'Retention purge failed');
      } finally {
        this.current = undefined;
      }
      this.schedule(this.o.intervalMs ?? 3_600_000, tick);
    };
    this.schedule(firstDelayMs, tick);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.stopped = true;
    await this.current?.catch(() => {});
  }

  private stopped = false;

  private schedule(ms: number, tick: () => Promise<void>) {
    if (this.stopped) return;
    this.timer = setTimeout(() => void tick(), ms);
    this.timer.unref();
  }
}
