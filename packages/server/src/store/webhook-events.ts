import { type QueryCreator, sql } from 'kysely';
import { deleteInBatches } from './batches.js';
import type { Database, Queryable } from './schema.js';
import { subscribedEndpoints } from './webhook-endpoints.js';

export interface NewWebhookEvent {
  id: string;
  type: string;
  /** The JSON body, serialised once: every attempt to every endpoint signs these bytes. */
  body: string;
  createdAt: Date;
}

/** Writes an event; call it inside the transaction of the change it reports. */
export async function insertWebhookEvent(db: Queryable, event: NewWebhookEvent): Promise<void> {
  await db
    .insertInto('webhook_events')
    .values({ id: event.id, type: event.type, body: event.body, created_at: event.createdAt })
    .execute();
}

/**
 * `db` with the common table expressions that write `event` and one pending delivery per enabled
 * endpoint that asked for its type, and nothing when none did: a statement built on it reports
 * its change without a query of its own for the endpoints (one statement per sign-in). The
 * endpoints are read in the statement's snapshot, as a transaction's own read would be.
 */
export function withSubscribedWebhookEvent(
  db: QueryCreator<Database>,
  event: NewWebhookEvent,
): QueryCreator<Database> {
  const withEvent = db
    .with('webhook_subscribers', (q) => subscribedEndpoints(q, event.type))
    .with('webhook_event', (q) =>
      q
        .insertInto('webhook_events')
        .columns(['id', 'type', 'body', 'created_at'])
        .expression(
          q
            .selectNoFrom((eb) => [
              eb.val(event.id).as('id'),
              eb.val(event.type).as('type'),
              eb.val(event.body).as('body'),
              eb.val(event.createdAt).as('created_at'),
            ])
            .where(({ exists, selectFrom }) =>
              exists(selectFrom('webhook_subscribers').select('webhook_subscribers.id')),
            ),
        )
        .returning('id'),
    )
    .with('webhook_delivery', (q) =>
      q
        .insertInto('webhook_deliveries')
        .columns(['id', 'event_id', 'endpoint_id', 'status', 'next_attempt_at', 'created_at'])
        .expression(
          q
            .selectFrom(['webhook_event', 'webhook_subscribers'])
            .select((eb) => [
              sql<string>`gen_random_uuid()`.as('id'),
              'webhook_event.id as event_id',
              'webhook_subscribers.id as endpoint_id',
              eb.val('pending').as('status'),
              eb.val(event.createdAt).as('next_attempt_at'),
              eb.val(event.createdAt).as('created_at'),
            ]),
        ),
    );
  // The statement built on it never names these expressions: it sees the tables it had.
  return withEvent as unknown as QueryCreator<Database>;
}

/**
 * Deletes events created before `before` that no delivery still waits for, in batches; returns
 * how many (their finished deliveries go with them, by cascade).
 */
export function purgeFinishedWebhookEvents(
  db: Queryable,
  before: Date,
  batch = 5000,
): Promise<number> {
  return deleteInBatches(
    db,
    'webhook_events',
    (limit) =>
      db
        .selectFrom('webhook_events as e')
        .select('e.id')
        .where('e.created_at', '<', before)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('webhook_deliveries as d')
                .select('d.id')
                .whereRef('d.event_id', '=', 'e.id')
                .where('d.status', '=', 'pending'),
            ),
          ),
        )
        .limit(limit),
    batch,
  );
}
