import { endUserPendings } from '../store/mfa-pending.js';
import type { Queryable } from '../store/schema.js';
import { revokeUserSessions } from '../store/sessions.js';
import { emitSessionsRevoked } from './webhooks.js';

/**
 * Signs a user out everywhere (but `exceptSessionId`, the caller's own session, when given):
 * revokes the sessions, announces them to the session caches and the `session.revoked` webhook,
 * and ends the second steps still pending. A pending sign-in is what a password bought: after a
 * reset or change, whoever typed the old one must not finish with a relayed code. Returns the
 * revoked session ids.
 */
export async function signOutEverywhere(
  trx: Queryable,
  userId: string,
  reason: string,
  now: Date,
  exceptSessionId?: string,
): Promise<string[]> {
  const revoked = await revokeUserSessions(trx, userId, reason, now, exceptSessionId);
  await endUserPendings(trx, userId, now);
  await emitSessionsRevoked(trx, userId, revoked, reason, now);
  return revoked;
}
