import { uuidv7 } from './ids.js';
import type { Queryable } from './schema.js';

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
