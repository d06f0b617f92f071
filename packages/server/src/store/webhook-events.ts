import { deleteInBatches } from './batches.js';
import type { Queryable } from './schema.js';

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
 * Deletes events created before `before` that no delivery still waits for, in batches; returns
 * how many (their finished deliveries go with them, by cascade).
 */
export function purgeFinishedWebhookEvents(
  db: Queryable,
  before: Date,
  batch = 5000,
): Promise<number> {
  return deleteInBatches(async (limit) => {
    const result = await db
      .deleteFrom('webhook_events')
      .where('id', 'in', (eb) =>
        eb
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
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }, batch);
}
