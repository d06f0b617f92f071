import type { Kysely } from 'kysely';

/**
 * Shared rate-limit windows and login throttles for several instances on PostgreSQL without
 * Redis. With REDIS_URL they live in Redis; on the embedded database in memory.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('abuse_counters')
    .addColumn('key', 'text', (c) => c.primaryKey())
    /** Hits in the window, or consecutive failures of a throttle. */
    .addColumn('count', 'integer', (c) => c.notNull())
    /** A throttle's last failure (epoch ms). */
    .addColumn('touched_ms', 'bigint', (c) => c.notNull())
    /** When the window ends / the record may be forgotten (epoch ms). */
    .addColumn('expires_ms', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('abuse_counters_expires_idx')
    .on('abuse_counters')
    .column('expires_ms')
    .execute();
}
