import { compose, durationText, linkTo, type MailContext } from './mail-templates.js';

/** The mails of the account flows (reset, password and email change). */

export function resetPasswordMail(ctx: MailContext, to: string, token: string, ttlSeconds: number) {
  return compose({
    to,
    subject: `Reset your ${ctx.serviceName} password`,
    paragraphs: [
      `Someone (hopefully you) asked to reset the password of your ${ctx.serviceName} account.`,
      `The link works once and expires in ${durationText(ttlSeconds)}. Setting a new password signs you out everywhere.`,
    ],
    action: { label: 'Choose a new password', url: linkTo(ctx, 'reset-password', token) },
    footer:
      'If you did not ask for this, ignore this mail: your password stays as it is. Only the newest link works.',
  });
}

export function passwordChangedMail(ctx: MailContext, to: string, how: 'reset' | 'changed') {
  return compose({
    to,
    subject: `Your ${ctx.serviceName} password was changed`,
    paragraphs: [
      how === 'reset'
        ? `The password of your ${ctx.serviceName} account was reset with a link sent to this address, and every device was signed out.`
        : `The password of your ${ctx.serviceName} account was changed, and every other device was signed out.`,
      `If it was you, there is nothing to do.`,
    ],
    footer: `If it was not you, reset your password at once with "Forgot password" on the sign-in page, and check the email address of your account.`,
  });
}

/** Sent to the new address: the change happens when this link is followed. */
export function confirmNewEmailMail(
  ctx: MailContext,
  to: string,
  token: string,
  ttlSeconds: number,
) {
  return compose({
    to,
    subject: `Confirm your new email address for ${ctx.serviceName}`,
    paragraphs: [
      `Someone asked to use this address for their ${ctx.serviceName} account. Confirm that it is yours to make the change.`,
      `The link works once and expires in ${durationText(ttlSeconds)}.`,
    ],
    action: { label: 'Confirm my new email address', url: linkTo(ctx, 'verify-email', token) },
    footer: 'If you did not ask for this, ignore this mail: nothing changes without this link.',
  });
}

/** Sent to the old address once the change is made. */
export function emailChangedMail(ctx: MailContext, to: string, newEmail: string) {
  return compose({
    to,
    subject: `The email address of your ${ctx.serviceName} account was changed`,
    paragraphs: [
      `Your ${ctx.serviceName} account now uses ${newEmail} instead of this address. Mail about the account, including password resets, goes there from now on.`,
    ],
    footer: `If you did not make this change, contact the ${ctx.serviceName} team at once: someone else may control your account.`,
  });
}
