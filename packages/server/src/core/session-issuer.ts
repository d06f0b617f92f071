import { uuidv7 } from '../store/ids.js';
import type { Queryable } from '../store/schema.js';
import { findSessionById, insertSessionWithAudit, revokeSession } from '../store/sessions.js';
import type { PublicUser, RequestContext, RotatedSession } from './request.js';
import { newSessionExpiry, type SessionTimeouts } from './sessions.js';
import { generateToken, hashToken } from './tokens.js';
import { webhookEvent, withWebhookEvent } from './webhooks.js';

/** The `amr` column's space-separated values. */
export function parseAmr(stored: string): string[] {
  return stored.split(' ').filter(Boolean);
}

/**
 * Opens and rotates sessions. Every way of signing in (cookie login, sign-up, token endpoint)
 * and every credential change that keeps the caller signed in goes through here, so the flows
 * share it instead of reaching into each other.
 */
export class SessionIssuer {
  constructor(private readonly timeouts: SessionTimeouts) {}

  /**
   * Opens a session: a fresh random token (only its hash is stored) and CSRF token, the idle and
   * absolute expiry, and its `login.succeeded` audit event (with `auditData`) in the same
   * statement.
   */
  async open(
    db: Queryable,
    userId: string,
    ctx: RequestContext,
    now: Date,
    auditData: Record<string, unknown> = {},
    options: {
      auditType?: string;
      absoluteExpiresAt?: Date;
      /** How the user signed in (RFC 8176); a password alone by default. */
      amr?: readonly string[];
      /** When they last proved who they are; `now` for a sign-in. */
      authenticatedAt?: Date;
      /**
       * The user as the caller read them: the `session.created` event then goes into the
       * session's own statement, without a query for its subscribers or for the user.
       */
      user?: PublicUser;
    } = {},
  ) {
    const token = generateToken();
    const csrfToken = generateToken();
    const sessionId = uuidv7(now.getTime());
    const expiry = newSessionExpiry(now, this.timeouts);
    if (options.absoluteExpiresAt && options.absoluteExpiresAt < expiry.absoluteExpiresAt) {
      expiry.absoluteExpiresAt = options.absoluteExpiresAt;
      if (expiry.idleExpiresAt > expiry.absoluteExpiresAt) {
        expiry.idleExpiresAt = options.absoluteExpiresAt;
      }
    }
    const session = {
      id: sessionId,
      user_id: userId,
      token_hash: hashToken(token),
      csrf_token: csrfToken,
      created_at: now,
      last_seen_at: now,
      idle_expires_at: expiry.idleExpiresAt,
      absolute_expires_at: expiry.absoluteExpiresAt,
      ip: ctx.ip,
      user_agent: ctx.userAgent?.slice(0, 512) ?? null,
      amr: (options.amr ?? ['pwd']).join(' '),
      authenticated_at: options.authenticatedAt ?? now,
    };
    const audit = {
      type: options.auditType ?? 'login.succeeded',
      userId,
      data: { sessionId, ...auditData },
      ...ctx,
    };
    const record = (q: Queryable) => insertSessionWithAudit(q, session, audit);
    const data = { sessionId };
    // A rotation continues a session under a new token: no new sign-in to report.
    if (options.auditType === 'session.rotated') await record(db);
    else if (options.user) {
      const event = webhookEvent('session.created', { user: options.user, data }, now);
      await insertSessionWithAudit(db, session, audit, event);
    } else await withWebhookEvent(db, 'session.created', { userId, data }, now, record);
    return { token, csrfToken, sessionId, expiry };
  }

  /**
   * Replaces a live session by a new one (new token and CSRF token) inside the caller's
   * transaction, once the credentials behind it changed: a copy of the old token taken before
   * the change is worth nothing after it. The new session keeps the old one's absolute expiry
   * (a rotation is no new sign-in). Undefined when the old session is no longer live.
   */
  async rotate(
    trx: Queryable,
    previousSessionId: string,
    reason: string,
    ctx: RequestContext,
    now: Date,
  ): Promise<RotatedSession | undefined> {
    const previous = await findSessionById(trx, previousSessionId);
    if (!previous || !(await revokeSession(trx, previousSessionId, 'rotated', now))) {
      return undefined;
    }
    const { session } = previous;
    if (now >= session.absolute_expires_at) return undefined;
    const { token, csrfToken, sessionId } = await this.open(
      trx,
      session.user_id,
      ctx,
      now,
      { previousSessionId, reason },
      {
        auditType: 'session.rotated',
        absoluteExpiresAt: session.absolute_expires_at,
        // A rotation is no new sign-in: how and when the user authenticated carry over.
        amr: parseAmr(session.amr),
        authenticatedAt: session.authenticated_at,
      },
    );
    return { token, csrfToken, sessionId };
  }
}
