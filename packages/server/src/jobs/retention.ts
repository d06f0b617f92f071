import type { Kysely } from 'kysely';
import type { Clock } from '../core/clock.js';
import { addSeconds } from '../core/clock.js';
import { purgeAuditEvents } from '../store/audit.js';
import { purgeFinishedMails } from '../store/outbox.js';
import { purgeRefreshTokensOfEndedSessions } from '../store/refresh-tokens.js';
import { purgeEndedSessions } from '../store/sessions.js';
import { purgeFinishedWebhookEvents } from '../store/webhook-events.js';
import { vacuumTables } from '../store/database.js';
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
  /** SESSION_RETENTION: sessions that ended, with their refresh tokens. */
  sessionRetentionSeconds: number;
  /**
   * VACUUM the tables a purge deleted from: the embedded database (PGlite) runs no autovacuum.
   * It holds PGlite's one connection while it runs (about 0.2 s for 100 000 refresh tokens).
   */
  vacuumAfterPurge?: boolean;
  log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** Between purges; default one hour. */
  intervalMs?: number;
}

/** What one purge deleted, by kind. */
export interface PurgeResult {
  auditEvents: number;
  mails: number;
  webhookEvents: number;
  sessions: number;
  refreshTokens: number;
}

/** The table each kind is deleted from (webhook events take their deliveries with them). */
const PURGED_TABLES = {
  auditEvents: 'audit_events',
  mails: 'mail_outbox',
  webhookEvents: 'webhook_events',
  sessions: 'sessions',
  refreshTokens: 'refresh_tokens',
} as const;

/** Since start, for the metrics: a purge that keeps failing lets these tables grow unseen. */
export interface RetentionStats {
  /** Rows deleted, by table. */
  deleted: Record<(typeof PURGED_TABLES)[keyof PurgeResult], number>;
  failures: number;
  /** When the last purge finished without an error (ms since the epoch); null before one has. */
  lastSuccessMs: number | null;
}

/**
 * The background purge: audit events older than AUDIT_RETENTION, sent or given-up mail older
 * than MAIL_RETENTION, finished webhook events older than WEBHOOK_RETENTION and sessions that
 * ended more than SESSION_RETENTION ago (with their refresh tokens), a first pass a
 * minute after start, then hourly. Every instance may run it: the deletes are idempotent and
 * batched.
 */
export class RetentionWorker {
  private readonly purge: Periodic;
  readonly stats: RetentionStats = {
    deleted: {
      audit_events: 0,
      mail_outbox: 0,
      webhook_events: 0,
      sessions: 0,
      refresh_tokens: 0,
    },
    failures: 0,
    lastSuccessMs: null,
  };

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
  async runOnce(): Promise<PurgeResult> {
    let result: PurgeResult;
    try {
      result = await this.purgeAll();
    } catch (error) {
      this.stats.failures++;
      throw error;
    }
    for (const kind of Object.keys(PURGED_TABLES) as (keyof PurgeResult)[]) {
      this.stats.deleted[PURGED_TABLES[kind]] += result[kind];
    }
    this.stats.lastSuccessMs = this.o.clock().getTime();
    return result;
  }

  private async purgeAll(): Promise<PurgeResult> {
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
    const sessionsEnded = addSeconds(now, -this.o.sessionRetentionSeconds);
    const refreshTokens = await purgeRefreshTokensOfEndedSessions(this.o.db, sessionsEnded);
    const sessions = await purgeEndedSessions(this.o.db, sessionsEnded);
    if (this.o.vacuumAfterPurge) {
      await vacuumTables(this.o.db, [
        ...(auditEvents > 0 ? (['audit_events'] as const) : []),
        ...(mails > 0 ? (['mail_outbox'] as const) : []),
        ...(webhookEvents > 0 ? (['webhook_events', 'webhook_deliveries'] as const) : []),
        ...(sessions > 0 ? (['sessions'] as const) : []),
        ...(refreshTokens > 0 ? (['refresh_tokens'] as const) : []),
      ]);
    }
    return { auditEvents, mails, webhookEvents, sessions, refreshTokens };
  }

  start(firstDelayMs = 60_000): void {
    this.purge.start(firstDelayMs);
  }

  async stop(): Promise<void> {
    await this.purge.stop();
  }
}
