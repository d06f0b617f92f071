import {
  type Kysely,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  sql,
  type UnknownRow,
} from 'kysely';
import type { Database, Queryable } from './schema.js';

/** The PostgreSQL NOTIFY channel that carries session revocations between instances. */
export const SESSION_CHANNEL = 'latchkey_sessions';

/** What was revoked: some sessions, or every session of a user. */
export type SessionRevocation = { sessionIds: string[] } | { userId: string };

/** Receives the revocations made through one database handle (its own instance's cache). */
export interface RevocationSink {
  revoked(event: SessionRevocation): void;
}

/**
 * Marks a Kysely instance (and every transaction opened from it) with the instance's
 * revocation sink. Changes no query; `announceRevocation` finds it on the executor.
 */
class SessionEventsPlugin implements KyselyPlugin {
  constructor(readonly sink: RevocationSink) {}
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

/** The database as this instance's services see it: revocations reach `sink` at once. */
export function withSessionEvents(db: Kysely<Database>, sink: RevocationSink): Kysely<Database> {
  return db.withPlugin(new SessionEventsPlugin(sink));
}

/**
 * Called by the store's revoke functions, so no revocation can skip it:
 * - `pg_notify` in the same transaction: PostgreSQL delivers it to every listening instance
 *   exactly when the revocation commits (and not at all if it rolls back);
 * - this instance's sink at once (its cache, and the Redis channel when configured), which
 *   keeps the session out of the cache until the transaction is visible.
 */
export async function announceRevocation(db: Queryable, event: SessionRevocation): Promise<void> {
  await sql`select pg_notify(${SESSION_CHANNEL}, ${JSON.stringify(event)})`.execute(db);
  for (const plugin of db.getExecutor().plugins) {
    if (plugin instanceof SessionEventsPlugin) plugin.sink.revoked(event);
  }
}

/** Parses a channel message; undefined for anything malformed. */
export function parseRevocation(payload: string): SessionRevocation | undefined {
  try {
    const value = JSON.parse(payload) as unknown;
    if (typeof value !== 'object' || value === null) return undefined;
    const v = value as { userId?: unknown; sessionIds?: unknown };
    if (typeof v.userId === 'string') return { userId: v.userId };
    if (Array.isArray(v.sessionIds) && v.sessionIds.every((id) => typeof id === 'string')) {
      return { sessionIds: v.sessionIds as string[] };
    }
  } catch {
    // ignore
  }
  return undefined;
}
