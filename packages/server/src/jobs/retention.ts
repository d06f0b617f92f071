import type { Kysely } from 'kysely';
import type { Clock } from '../core/clock.js';
import { addSeconds } from '../core/clock.js';
import { purgeAuditEvents } from '../store/audit.js';
import { purgeFinishedMails } from '../store/outbox.js';
import { purgeFinishedWebhookEvents } from '../store/webhook-events.js';
import type { Database } from '../store/schema.js';
import { Periodic } from './periodic.js';

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
 * than MAIL_RETENTION and finished webhook events older than WEBHOOK_RETENTION, a first pass a
 * minute after start, then hourly. Every instance may run it: the deletes are idempotent and
 * batched.
 */
export class RetentionWorker {
  private readonly purge: Periodic;

  constructor(private readonly o: RetentionOptions) {
    const onError = (error: unknown) => o.log.error({ err: error }, 'Retention purge failed');
    this.purge = new Periodic(
      async () => {
        const result = await this.runOnce();
        if (Object.values(result).some((n) => n > 0)) o.log.info(result, 'Retention purge');
      },
      o.intervalMs ?? 3_600_000,
      onError,
    );
  }

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
    this.purge.start(firstDelayMs);
  }

  async stop(): Promise<void> {
    await this.purge.stop();
  }
}
