import type { Selectable } from 'kysely';
import { deleteInBatches } from './batches.js';
import { uuidv7 } from './ids.js';
import type { AuditEventsTable, Queryable } from './schema.js';

/** An audit row with the current addresses of its user and actor (null once deleted). */
export type AuditRow = Selectable<AuditEventsTable> & {
  user_email: string | null;
  actor_email: string | null;
};

export interface AuditEvent {
  type: string;
  userId?: string | null;
  actorId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  data?: Record<string, unknown>;
}

/** The row of an audit event (for statements that write it along with something else). */
export function auditEventRow(event: AuditEvent, now: Date) {
  return {
    id: uuidv7(now.getTime()),
    type: event.type,
    user_id: event.userId ?? null,
    actor_id: event.actorId ?? null,
    ip: event.ip ?? null,
    user_agent: event.userAgent?.slice(0, 512) ?? null,
    data: JSON.stringify(event.data ?? {}),
    created_at: now,
  };
}

export async function recordAuditEvent(db: Queryable, event: AuditEvent, now: Date): Promise<void> {
  await db.insertInto('audit_events').values(auditEventRow(event, now)).execute();
}

export interface AuditSearch {
  userId?: string | undefined;
  types?: string[] | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  beforeId?: string | undefined;
  limit: number;
}

/** Audit events newest first, keyset-paginated on the (time-ordered UUIDv7) id. */
export async function searchAuditEvents(db: Queryable, search: AuditSearch): Promise<AuditRow[]> {
  let query = db
    .selectFrom('audit_events as e')
    .leftJoin('users as u', 'u.id', 'e.user_id')
    .leftJoin('users as a', 'a.id', 'e.actor_id')
    .selectAll('e')
    .select(['u.email as user_email', 'a.email as actor_email']);
  if (search.userId) query = query.where('e.user_id', '=', search.userId);
  if (search.types && search.types.length > 0) query = query.where('e.type', 'in', search.types);
  if (search.from) query = query.where('e.created_at', '>=', search.from);
  if (search.to) query = query.where('e.created_at', '<', search.to);
  if (search.beforeId) query = query.where('e.id', '<', search.beforeId);
  return query.orderBy('e.id', 'desc').limit(search.limit).execute();
}

/** Deletes audit events created before `before`, in batches; returns how many. */
export function purgeAuditEvents(db: Queryable, before: Date, batch = 5000): Promise<number> {
  return deleteInBatches(
    db,
    'audit_events',
    (limit) =>
      db.selectFrom('audit_events').select('id').where('created_at', '<', before).limit(limit),
    batch,
  );
}
