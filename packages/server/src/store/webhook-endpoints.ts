import type { QueryCreator, Selectable, Updateable } from 'kysely';
import { sql } from 'kysely';
import type { Database, Queryable, WebhookEndpointsTable } from './schema.js';

export type WebhookEndpointRow = Selectable<WebhookEndpointsTable>;

export async function insertWebhookEndpoint(
  db: Queryable,
  row: WebhookEndpointRow,
): Promise<WebhookEndpointRow> {
  return db.insertInto('webhook_endpoints').values(row).returningAll().executeTakeFirstOrThrow();
}

/** Every endpoint, oldest first. */
export function listWebhookEndpoints(db: Queryable): Promise<WebhookEndpointRow[]> {
  return db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

export function findWebhookEndpoint(
  db: Queryable,
  id: string,
): Promise<WebhookEndpointRow | undefined> {
  return db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The ids of the enabled endpoints that asked for `type`. */
export async function subscribedEndpointIds(db: Queryable, type: string): Promise<string[]> {
  const rows = await subscribedEndpoints(db, type).execute();
  return rows.map((r) => r.id);
}

/** The query of `subscribedEndpointIds`, for statements that use it as a part. */
export function subscribedEndpoints(db: QueryCreator<Database>, type: string) {
  return db
    .selectFrom('webhook_endpoints')
    .select('id')
    .where('enabled', '=', true)
    .where(sql<boolean>`${type} = any(events)`);
}

export async function updateWebhookEndpoint(
  db: Queryable,
  id: string,
  changes: Updateable<WebhookEndpointsTable>,
): Promise<WebhookEndpointRow | undefined> {
  return db
    .updateTable('webhook_endpoints')
    .set(changes)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

/** Deletes the endpoint and, by cascade, its deliveries; false when there was none. */
export async function deleteWebhookEndpoint(db: Queryable, id: string): Promise<boolean> {
  const result = await db.deleteFrom('webhook_endpoints').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** A successful delivery: the endpoint is no longer failing. */
export async function markEndpointHealthy(db: Queryable, id: string): Promise<void> {
  await db
    .updateTable('webhook_endpoints')
    .set({ failing_since: null })
    .where('id', '=', id)
    .where('failing_since', 'is not', null)
    .execute();
}

/**
 * A failed attempt: starts the failing period if none is running, and disables the endpoint
 * with `reason` when it has been failing since before `disableIfFailingBefore`. Returns the row
 * when this call disabled it.
 */
export async function markEndpointFailing(
  db: Queryable,
  id: string,
  now: Date,
  disableIfFailingBefore: Date,
  reason: string,
): Promise<WebhookEndpointRow | undefined> {
  await db
    .updateTable('webhook_endpoints')
    .set({ failing_since: now })
    .where('id', '=', id)
    .where('failing_since', 'is', null)
    .execute();
  return db
    .updateTable('webhook_endpoints')
    .set({ enabled: false, disabled_reason: reason, updated_at: now })
    .where('id', '=', id)
    .where('enabled', '=', true)
    .where('failing_since', '<=', disableIfFailingBefore)
    .returningAll()
    .executeTakeFirst();
}
