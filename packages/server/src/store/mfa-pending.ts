import type { Insertable, Selectable } from 'kysely';
import { type AuditEvent, auditEventRow } from './audit.js';
import type { MfaPendingTable, PendingPurpose, Queryable } from './schema.js';

export type PendingRow = Selectable<MfaPendingTable>;

/**
 * Inserts a pending sign-in and its audit event in one statement (atomic without a
 * transaction), sweeping the expired ones: dead pending sign-ins are worth nothing.
 */
export async function insertPendingWithAudit(
  db: Queryable,
  row: Insertable<MfaPendingTable> & { created_at: Date },
  audit: AuditEvent,
): Promise<void> {
  await db
    .with('swept', (q) => q.deleteFrom('mfa_pending').where('expires_at', '<', row.created_at))
    .with('pending', (q) => q.insertInto('mfa_pending').values(row))
    .insertInto('audit_events')
    .values(auditEventRow(audit, row.created_at))
    .execute();
}

/** The live (unused, unexpired) pending sign-in of `purpose` behind a token hash. */
export function findLivePending(
  db: Queryable,
  tokenHash: string,
  purpose: PendingPurpose,
  now: Date,
): Promise<PendingRow | undefined> {
  return db
    .selectFrom('mfa_pending')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

export async function setPendingChallenge(
  db: Queryable,
  id: string,
  challenge: string,
): Promise<void> {
  await db.updateTable('mfa_pending').set({ challenge }).where('id', '=', id).execute();
}

/** Counts a wrong code; at `maxFailures` the pending sign-in ends. Returns the new count. */
export async function countPendingFailure(
  db: Queryable,
  id: string,
  maxFailures: number,
  now: Date,
): Promise<number> {
  const row = await db
    .updateTable('mfa_pending')
    .set((eb) => ({ failures: eb('failures', '+', 1) }))
    .where('id', '=', id)
    .returning('failures')
    .executeTakeFirst();
  const failures = row?.failures ?? maxFailures;
  if (failures >= maxFailures) {
    await db.updateTable('mfa_pending').set({ used_at: now }).where('id', '=', id).execute();
  }
  return failures;
}

/** Spends the pending sign-in: true for the one request that does (single use). */
export async function consumePending(db: Queryable, id: string, now: Date): Promise<boolean> {
  const result = await db
    .updateTable('mfa_pending')
    .set({ used_at: now })
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Ends every live pending sign-in of a user (their password changed, or they signed out everywhere). */
export async function endUserPendings(db: Queryable, userId: string, now: Date): Promise<void> {
  await db
    .updateTable('mfa_pending')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .execute();
}
