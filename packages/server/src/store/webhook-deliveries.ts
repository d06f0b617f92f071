import { sql } from 'kysely';
import type { Queryable, WebhookDeliveryStatus } from './schema.js';

/**
 * One row per event and endpoint, drained by the webhook worker (src/jobs/webhook-worker.ts)
 * with the claim and lease of the mail outbox (see store/outbox.ts): a claim moves
 * `next_attempt_at` to the lease end under `FOR UPDATE SKIP LOCKED`, so two instances never
 * hold one delivery at once, a dead worker's rows come back when its lease ends, and the lease
 * end is the claim token that later updates must still find.
 */

/** A claimed delivery with what sending it needs. */
export interface ClaimedDelivery {
  id: string;
  eventId: string;
  endpointId: string;
  body: string;
  url: string;
  secretEncrypted: string;
  previousSecretEncrypted: string | null;
  previousSecretExpiresAt: Date | null;
  /** Failed attempts so far (before this one). */
  attempts: number;
  createdAt: Date;
  leaseUntil: Date;
}

export interface DeliveryRow {
  id: string;
  eventId: string;
  type: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: Date;
  createdAt: Date;
  deliveredAt: Date | null;
}

/** One pending delivery per endpoint id, due at `now`. */
export async function insertWebhookDeliveries(
  db: Queryable,
  eventId: string,
  endpointIds: string[],
  now: Date,
): Promise<void> {
  if (endpointIds.length === 0) return;
  await db
    .insertInto('webhook_deliveries')
    .values(
      endpointIds.map((endpointId) => ({
        id: sql<string>`gen_random_uuid()`,
        event_id: eventId,
        endpoint_id: endpointId,
        status: 'pending' as const,
        next_attempt_at: now,
        created_at: now,
      })),
    )
    .execute();
}

/**
 * Claims up to `limit` due pending deliveries of enabled endpoints, oldest due first, for
 * `leaseMs`. Rows locked by a concurrent claim are skipped, not waited for.
 */
export async function claimDueDeliveries(
  db: Queryable,
  now: Date,
  limit: number,
  leaseMs: number,
): Promise<ClaimedDelivery[]> {
  const leaseUntil = new Date(now.getTime() + leaseMs);
  const claimed = await db
    .updateTable('webhook_deliveries')
    .set({ next_attempt_at: leaseUntil })
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('webhook_deliveries')
        .select('id')
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .where('endpoint_id', 'in', (e) =>
          e.selectFrom('webhook_endpoints').select('id').where('enabled', '=', true),
        )
        .orderBy('next_attempt_at')
        .orderBy('id')
        .limit(limit)
        .forUpdate()
        .skipLocked(),
    )
    .where('status', '=', 'pending')
    .returning('id')
    .execute();
  if (claimed.length === 0) return [];
  const rows = await db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_events as ev', 'ev.id', 'd.event_id')
    .innerJoin('webhook_endpoints as ep', 'ep.id', 'd.endpoint_id')
    .select([
      'd.id',
      'd.event_id',
      'd.endpoint_id',
      'd.attempts',
      'd.created_at',
      'ev.body',
      'ep.url',
      'ep.secret_encrypted',
      'ep.previous_secret_encrypted',
      'ep.previous_secret_expires_at',
    ])
    .where(
      'd.id',
      'in',
      claimed.map((c) => c.id),
    )
    .orderBy('d.event_id')
    .execute();
  return rows.map((row) => ({
    id: row.id,
    eventId: row.event_id,
    endpointId: row.endpoint_id,
    body: row.body,
    url: row.url,
    secretEncrypted: row.secret_encrypted,
    previousSecretEncrypted: row.previous_secret_encrypted,
    previousSecretExpiresAt: row.previous_secret_expires_at,
    attempts: row.attempts,
    createdAt: row.created_at,
    leaseUntil,
  }));
}

/** A 2xx: delivered, whoever holds the row now. False when it was no longer pending. */
export async function markDeliveryDelivered(
  db: Queryable,
  id: string,
  outcome: { statusCode: number; now: Date },
): Promise<boolean> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set((eb) => ({
      status: 'delivered' as const,
      attempts: eb('attempts', '+', 1),
      delivered_at: outcome.now,
      last_status_code: outcome.statusCode,
      last_error: null,
    }))
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/**
 * A failed attempt: `attempts + 1`, the status code and error; pending again at `retryAt`, or
 * failed with `retryAt: null`. Only while the row still carries this claim's lease.
 */
export async function markDeliveryAttemptFailed(
  db: Queryable,
  claim: Pick<ClaimedDelivery, 'id' | 'leaseUntil'>,
  outcome: { statusCode: number | null; error: string; now: Date; retryAt: Date | null },
): Promise<boolean> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set((eb) => ({
      attempts: eb('attempts', '+', 1),
      last_status_code: outcome.statusCode,
      last_error: outcome.error,
      next_attempt_at: outcome.retryAt ?? outcome.now,
      ...(outcome.retryAt === null ? { status: 'failed' as const } : {}),
    }))
    .where('id', '=', claim.id)
    .where('status', '=', 'pending')
    .where('next_attempt_at', '=', claim.leaseUntil)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Hands a claimed, unsent row back, due at `now`, without counting an attempt. */
export async function releaseDelivery(
  db: Queryable,
  claim: Pick<ClaimedDelivery, 'id' | 'leaseUntil'>,
  now: Date,
): Promise<boolean> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set({ next_attempt_at: now })
    .where('id', '=', claim.id)
    .where('status', '=', 'pending')
    .where('next_attempt_at', '=', claim.leaseUntil)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/**
 * Makes every pending delivery due now. Only for a database no other process can use (the
 * embedded PGlite): at its start any lease is a dead process's.
 */
export async function releaseAllPendingDeliveries(db: Queryable, now: Date): Promise<number> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set({ next_attempt_at: now })
    .where('status', '=', 'pending')
    .where('next_attempt_at', '>', now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Puts a delivery back in the queue, due now, with a fresh retry period (`created_at` moves to
 * now; attempts so far stay counted). False when it is unknown or not the endpoint's.
 */
export async function retryDelivery(
  db: Queryable,
  endpointId: string,
  id: string,
  now: Date,
): Promise<boolean> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set({ status: 'pending', next_attempt_at: now, created_at: now, delivered_at: null })
    .where('id', '=', id)
    .where('endpoint_id', '=', endpointId)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** An endpoint's deliveries, newest event first. */
export async function listDeliveries(
  db: Queryable,
  endpointId: string,
  options: { limit: number; beforeEventId?: string | undefined; status?: WebhookDeliveryStatus },
): Promise<DeliveryRow[]> {
  let query = db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_events as ev', 'ev.id', 'd.event_id')
    .select([
      'd.id',
      'd.event_id',
      'ev.type',
      'd.status',
      'd.attempts',
      'd.last_status_code',
      'd.last_error',
      'd.next_attempt_at',
      'd.created_at',
      'd.delivered_at',
    ])
    .where('d.endpoint_id', '=', endpointId);
  if (options.beforeEventId) query = query.where('d.event_id', '<', options.beforeEventId);
  if (options.status) query = query.where('d.status', '=', options.status);
  const rows = await query.orderBy('d.event_id', 'desc').limit(options.limit).execute();
  return rows.map((r) => ({
    id: r.id,
    eventId: r.event_id,
    type: r.type,
    status: r.status,
    attempts: r.attempts,
    lastStatusCode: r.last_status_code,
    lastError: r.last_error,
    nextAttemptAt: r.next_attempt_at,
    createdAt: r.created_at,
    deliveredAt: r.delivered_at,
  }));
}

/** Pending deliveries and the creation time of the oldest (metrics). */
export async function deliveryBacklog(
  db: Queryable,
): Promise<{ pending: number; oldestPendingAt: Date | null }> {
  const row = await db
    .selectFrom('webhook_deliveries')
    .select((eb) => [eb.fn.countAll().as('count'), eb.fn.min('created_at').as('oldest')])
    .where('status', '=', 'pending')
    .executeTakeFirstOrThrow();
  return {
    pending: Number(row.count),
    oldestPendingAt: row.oldest === null ? null : new Date(row.oldest as Date | string),
  };
}
