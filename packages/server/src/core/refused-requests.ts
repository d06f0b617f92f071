import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../store/audit.js';
import type { Database } from '../store/schema.js';
import type { Clock } from './clock.js';
import type { WindowStore } from '../store/counter-rules.js';

/** At most this many refusals are written per client IP, and per user, in a minute. */
export const REFUSALS_AUDITED_PER_MINUTE = 10;

/** A request answered 403 before its handler ran (CSRF, Origin, a missing permission). */
export interface RefusedRequest {
  /** The problem code of the answer: `csrf_failed`, `origin_not_allowed`, `forbidden`. */
  reason: string;
  method: string;
  /** The route pattern (`/admin/users/:id`): never the URL, whose query may carry anything. */
  route: string | null;
  /** The signed-in user, when the refusal came after the session was found. */
  userId: string | null;
  ip: string | null;
  userAgent: string | null;
  /** What else explains it, e.g. the refused `origin` or the missing `permission`. */
  data?: Record<string, string>;
}

/**
 * Writes refused requests to the audit trail as `request.forbidden`, bounded so that a flood of
 * them cannot fill the table: beyond the bound for the IP or the user in the current minute,
 * the refusal is answered but not written.
 */
export class RefusedRequestAudit {
  constructor(
    private readonly o: {
      db: Kysely<Database>;
      clock: Clock;
      /** Where the per-minute windows are counted. */
      counters: WindowStore;
    },
  ) {}

  /** Records the refusal unless its IP or user is over the bound; returns whether it did. */
  async record(refusal: RefusedRequest): Promise<boolean> {
    const now = this.o.clock();
    const keys = [`refused:ip:${refusal.ip ?? ''}`];
    if (refusal.userId) keys.push(`refused:user:${refusal.userId}`);
    for (const key of keys) {
      const hit = await this.o.counters.hit(key, 60_000, now.getTime());
      if (hit.count > REFUSALS_AUDITED_PER_MINUTE) return false;
    }
    await recordAuditEvent(
      this.o.db,
      {
        type: 'request.forbidden',
        userId: refusal.userId,
        ip: refusal.ip,
        userAgent: refusal.userAgent,
        data: {
          reason: refusal.reason,
          method: refusal.method,
          route: refusal.route,
          ...refusal.data,
        },
      },
      now,
    );
    return true;
  }
}
