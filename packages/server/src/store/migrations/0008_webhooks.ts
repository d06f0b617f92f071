import { type Kysely, sql } from 'kysely';

/**
 * Webhooks: the endpoints, the events (written in the transaction of the change that caused
 * them) and one delivery per event and endpoint, drained by the webhook worker like the mail
 * outbox. Version 7 belongs to second factors.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('webhook_endpoints')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('events', sql`text[]`, (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    // `whsec_…` sealed with a key derived from the key-encryption secret.
    .addColumn('secret_encrypted', 'text', (c) => c.notNull())
    // The secret before the last rotation: it also signs until `previous_secret_expires_at`.
    .addColumn('previous_secret_encrypted', 'text')
    .addColumn('previous_secret_expires_at', 'timestamptz')
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('disabled_reason', 'text')
    // Set by the first failed attempt after a success, cleared by the next success.
    .addColumn('failing_since', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('webhook_events')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    // The exact body sent: `{type, timestamp, data}` serialised once, so every attempt and
    // every endpoint signs the same bytes.
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('webhook_events_created_idx')
    .on('webhook_events')
    .column('created_at')
    .execute();

  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('event_id', 'uuid', (c) =>
      c.notNull().references('webhook_events.id').onDelete('cascade'),
    )
    .addColumn('endpoint_id', 'uuid', (c) =>
      c.notNull().references('webhook_endpoints.id').onDelete('cascade'),
    )
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('pending', 'delivered', 'failed')`),
    )
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_status_code', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('delivered_at', 'timestamptz')
    .execute();
  // The worker's claim: due pending rows.
  await db.schema
    .createIndex('webhook_deliveries_due_idx')
    .on('webhook_deliveries')
    .columns(['next_attempt_at'])
    .where(sql.ref('status'), '=', 'pending')
    .execute();
  // One delivery per event and endpoint; an endpoint's list, newest event first.
  await db.schema
    .createIndex('webhook_deliveries_endpoint_event_key')
    .on('webhook_deliveries')
    .unique()
    .columns(['endpoint_id', 'event_id'])
    .execute();
  await db.schema
    .createIndex('webhook_deliveries_event_idx')
    .on('webhook_deliveries')
    .column('event_id')
    .execute();

  await db
    .insertInto('permissions' as never)
    .values({
      name: 'webhooks:manage',
      description: 'Add, change and remove webhook endpoints; see and retry their deliveries',
    } as never)
    .execute();
  await db
    .insertInto('role_permissions' as never)
    .values({ role_name: 'admin', permission: 'webhooks:manage' } as never)
    .execute();
}
