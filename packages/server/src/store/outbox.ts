import { sql } from 'kysely';
import { deleteInBatches } from './batches.js';
import { uuidv7 } from './ids.js';
import type { Queryable } from './schema.js';

/**
 * The durable mail outbox: a mail is a `mail_outbox` row written in the
 * same transaction as the token it carries, and a worker (src/jobs/outbox-worker.ts) sends it.
 *
 * Claiming is one statement, `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)`, that
 * also moves `next_attempt_at` to the end of a lease. Two workers on one PostgreSQL never get
 * the same row: a row locked by the other claim is skipped, and a row it already claimed is no
 * longer due. A worker that dies while sending leaves its rows pending with the lease as their
 * next attempt, so any worker retries them once the lease is over. The lease end doubles as a
 * claim token: recording a failure or releasing a row only applies while the row still carries
 * the lease this worker set, so a worker that overran its lease cannot overwrite the state
 * written by the worker that took the row over. Delivery is therefore at least once: a worker
 * that sends but dies (or loses the database) before recording it causes one more send.
 */

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** A row handed to one worker until `leaseUntil`. */
export interface ClaimedMail {
  id: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Failed attempts so far (before this one). */
  attempts: number;
  /** End of this worker's lease; also identifies the claim (see the module comment). */
  leaseUntil: Date;
}

// One bare address: a list ("a@x, b@y") or a display name would let a crafted address add a
// recipient to a mail that carries someone's token. The API validates emails before this;
// this is the last line.
const SINGLE_ADDRESS = /^[^\s@,;:<>()[\]"\\]+@[^\s@,;:<>()[\]"\\]+$/;

/** Writes a pending mail, due at once. Call it inside the transaction that issues the token. */
export async function enqueueMail(db: Queryable, mail: OutgoingMail, now: Date): Promise<string> {
  const row = outboxRow(mail, now);
  await db.insertInto('mail_outbox').values(row).execute();
  return row.id;
}

/**
 * The row of a pending mail, due at once (for statements that write it along with the token it
 * carries); throws for a recipient or subject that could smuggle in more.
 */
export function outboxRow(mail: OutgoingMail, now: Date) {
  if (!SINGLE_ADDRESS.test(mail.to)) throw new Error('Mail recipient must be a single address');
  if (/[\r\n]/.test(mail.subject)) throw new Error('Mail subject must be a single line');
  return {
    id: uuidv7(now.getTime()),
    to_address: mail.to,
    subject: mail.subject,
    text_body: mail.text,
    html_body: mail.html,
    status: 'pending' as const,
    next_attempt_at: now,
    created_at: now,
  };
}

/**
 * Claims up to `limit` pending mails due at `now`, oldest due first, for `leaseMs`: until then
 * no other claim returns them. Rows locked by a concurrent claim are skipped, not waited for.
 */
export async function claimDueMails(
  db: Queryable,
  now: Date,
  limit: number,
  leaseMs: number,
): Promise<ClaimedMail[]> {
  const leaseUntil = new Date(now.getTime() + leaseMs);
  const rows = await db
    .updateTable('mail_outbox')
    .set({ next_attempt_at: leaseUntil })
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('mail_outbox')
        .select('id')
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .orderBy('next_attempt_at')
        .orderBy('id')
        .limit(limit)
        .forUpdate()
        .skipLocked(),
    )
    .where('status', '=', 'pending')
    .returning(['id', 'to_address', 'subject', 'text_body', 'html_body', 'attempts'])
    .execute();
  // RETURNING has no order; ids are UUIDv7, so this is creation order.
  rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return rows.map((row) => ({
    id: row.id,
    to: row.to_address,
    subject: row.subject,
    text: row.text_body ?? '',
    html: row.html_body ?? '',
    attempts: row.attempts,
    leaseUntil,
  }));
}

/**
 * Records a delivery: status 'sent', `sent_at`, and the bodies (live tokens) cleared. Not tied
 * to the lease: a mail that went out is sent, whoever holds the row now. False when the row was
 * no longer pending (another worker recorded it first).
 */
export async function markMailSent(db: Queryable, id: string, now: Date): Promise<boolean> {
  const result = await db
    .updateTable('mail_outbox')
    .set({ status: 'sent', sent_at: now, text_body: null, html_body: null, last_error: null })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/**
 * Records a failed attempt: `attempts + 1` and `last_error`; then either pending again at
 * `retryAt`, or, with `retryAt: null`, given up: status 'failed' and the bodies cleared. Only
 * applies while the row still carries this claim's lease; false otherwise.
 */
export async function markMailFailedAttempt(
  db: Queryable,
  claim: Pick<ClaimedMail, 'id' | 'leaseUntil'>,
  outcome: { error: string; now: Date; retryAt: Date | null },
): Promise<boolean> {
  const giveUp = outcome.retryAt === null;
  const result = await db
    .updateTable('mail_outbox')
    .set((eb) => ({
      attempts: eb('attempts', '+', 1),
      last_error: outcome.error,
      next_attempt_at: outcome.retryAt ?? outcome.now,
      ...(giveUp ? { status: 'failed' as const, text_body: null, html_body: null } : {}),
    }))
    .where('id', '=', claim.id)
    .where('status', '=', 'pending')
    .where('next_attempt_at', '=', claim.leaseUntil)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Hands a claimed, unsent row back, due at `now`, without counting an attempt. */
export async function releaseMail(
  db: Queryable,
  claim: Pick<ClaimedMail, 'id' | 'leaseUntil'>,
  now: Date,
): Promise<boolean> {
  const result = await db
    .updateTable('mail_outbox')
    .set({ next_attempt_at: now })
    .where('id', '=', claim.id)
    .where('status', '=', 'pending')
    .where('next_attempt_at', '=', claim.leaseUntil)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/**
 * Makes every pending mail due now. Only for a database no other process can use (the embedded
 * PGlite, held by one server): at its start, any lease is a dead process's, and waiting it out
 * would delay mail the previous run was cut off while sending. Backed-off rows retry early too,
 * which is harmless.
 */
export async function releaseAllPendingMails(db: Queryable, now: Date): Promise<number> {
  const result = await db
    .updateTable('mail_outbox')
    .set({ next_attempt_at: now })
    .where('status', '=', 'pending')
    .where('next_attempt_at', '>', now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Mails not yet sent nor given up (including those claimed right now). */
export async function countPendingMails(db: Queryable): Promise<number> {
  const row = await db
    .selectFrom('mail_outbox')
    .select((eb) => eb.fn.countAll().as('count'))
    .where('status', '=', 'pending')
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Outbox rows by status (metrics). */
export async function countMailsByStatus(db: Queryable): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('mail_outbox')
    .select(['status', (eb) => eb.fn.countAll().as('count')])
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.count)]));
}

/** Deletes the mail queued for an address (a deleted user's), whatever its state. */
export async function deleteMailsTo(db: Queryable, address: string): Promise<void> {
  await db
    .deleteFrom('mail_outbox')
    .where(sql`lower(to_address)`, '=', address.toLowerCase())
    .execute();
}

/** Deletes sent and given-up mail created before `before`, in batches; returns how many. */
export function purgeFinishedMails(db: Queryable, before: Date, batch = 5000): Promise<number> {
  return deleteInBatches(
    db,
    'mail_outbox',
    (limit) =>
      db
        .selectFrom('mail_outbox')
        .select('id')
        .where('status', 'in', ['sent', 'failed'])
        .where('created_at', '<', before)
        .limit(limit),
    batch,
  );
}
