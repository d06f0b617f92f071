import { addSeconds } from './clock.js';

export interface SessionTimeouts {
  idleTimeoutSeconds: number;
  absoluteTimeoutSeconds: number;
}

/** Last-seen (and so the idle expiry) is written at most this often per session. */
export const LAST_SEEN_WRITE_INTERVAL_MS = 60_000;

export function newSessionExpiry(now: Date, t: SessionTimeouts) {
  return {
    idleExpiresAt: addSeconds(now, t.idleTimeoutSeconds),
    absoluteExpiresAt: addSeconds(now, t.absoluteTimeoutSeconds),
  };
}

export function isSessionActive(
  session: { idleExpiresAt: Date; absoluteExpiresAt: Date; revokedAt: Date | null },
  now: Date,
): boolean {
  return (
    session.revokedAt === null &&
    now.getTime() < session.idleExpiresAt.getTime() &&
    now.getTime() < session.absoluteExpiresAt.getTime()
  );
}

/**
 * The sliding idle expiry after a request at `now`, or null when it need not be written yet
 * (seen less than a minute ago). Never extends past the absolute expiry.
 */
export function slideIdleExpiry(
  session: { lastSeenAt: Date; absoluteExpiresAt: Date },
  now: Date,
  t: SessionTimeouts,
): { lastSeenAt: Date; idleExpiresAt: Date } | null {
  if (now.getTime() - session.lastSeenAt.getTime() < LAST_SEEN_WRITE_INTERVAL_MS) return null;
  const idle = addSeconds(now, t.idleTimeoutSeconds);
  return {
    lastSeenAt: now,
    idleExpiresAt: new Date(Math.min(idle.getTime(), session.absoluteExpiresAt.getTime())),
  };
}
