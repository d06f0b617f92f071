import type { Transaction } from 'kysely';
import { recordAuditEvent } from '../store/audit.js';
import { voidEmailTokens } from '../store/email-tokens.js';
import { enqueueMail } from '../store/outbox.js';
import type { Database, EmailTokenRow } from '../store/schema.js';
import { changeUserEmail, findUserByEmail, type UserWithRoles } from '../store/users.js';
import { emailChangedMail } from './account-mails.js';
import type { MailContext } from './mail-templates.js';
import { type RequestContext, toPublicUser } from './request.js';
import { emitWebhookEvent } from './webhooks.js';

/**
 * The second half of an email change, run by AuthService.verifyEmail inside its transaction
 * when the token's purpose is `change_email`: the address is replaced (and counts as verified)
 * and the old address is told. Undefined when the new address has meanwhile been taken.
 */
export async function completeEmailChange(
  trx: Transaction<Database>,
  row: EmailTokenRow,
  user: UserWithRoles,
  now: Date,
  mail: MailContext,
  ctx: RequestContext,
): Promise<UserWithRoles | undefined> {
  const newEmail = row.new_email;
  if (!newEmail) return undefined;
  const holder = await findUserByEmail(trx, newEmail);
  if (holder && holder.id !== user.id) return undefined;
  const oldEmail = user.email;
  // A sign-up may take the address between the check above and this update: then the change
  // is refused, and the transaction (and the spent token) stays usable.
  if (!(await changeUserEmail(trx, user.id, newEmail, now))) return undefined;
  // Links sent to the old address (reset, verification) must not work for the new one.
  await voidEmailTokens(trx, user.id, ['reset_password', 'verify_email', 'change_email']);
  if (oldEmail.toLowerCase() !== newEmail.toLowerCase()) {
    await enqueueMail(trx, emailChangedMail(mail, oldEmail, newEmail), now);
  }
  await recordAuditEvent(
    trx,
    { type: 'email.changed', userId: user.id, data: { from: oldEmail, to: newEmail }, ...ctx },
    now,
  );
  const changed = toPublicUser({ ...user, email: newEmail, email_verified_at: now });
  const data = { previousEmail: oldEmail };
  await emitWebhookEvent(trx, 'email.changed', { user: changed, data }, now);
  await emitWebhookEvent(trx, 'user.updated', { user: changed, data: { changed: 'email' } }, now);
  return { ...user, email: newEmail, email_verified_at: now };
}
