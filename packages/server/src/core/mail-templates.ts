import type { OutgoingMail } from '../store/outbox.js';

const escapeHtml = (value: string) =>
  value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

/** One layout for every mail: a short text, an optional button, and the same in plain text. */
export function compose(options: {
  to: string;
  subject: string;
  paragraphs: string[];
  action?: { label: string; url: string };
  footer: string;
}): OutgoingMail {
  const { paragraphs, action, footer } = options;
  const text = [
    ...paragraphs,
    ...(action ? [`${action.label}: ${action.url}`] : []),
    '--',
    footer,
  ].join('\n\n');
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5;color:#111;max-width:560px;margin:auto;padding:24px">
${paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('\n')}
${
  action
    ? `<p><a href="${escapeHtml(action.url)}" style="display:inline-block;background:#1d4ed8;color:#fff;padding:10px 18px;border-radius:6px;text-decoration:none">${escapeHtml(action.label)}</a></p>
<p style="font-size:13px;color:#555">Or paste this link into your browser: ${escapeHtml(action.url)}</p>`
    : ''
}
<hr style="border:none;border-top:1px solid #ddd"><p style="font-size:13px;color:#555">${escapeHtml(footer)}</p>
</body></html>`;
  return { to: options.to, subject: options.subject, text, html };
}

export interface MailContext {
  serviceName: string;
  /** Base of links, e.g. https://auth.example.com/ (PUBLIC_URL). */
  publicUrl: URL;
}

/** PUBLIC_URL may carry a path prefix (https://example.com/auth), which links must keep. */
export function linkTo(ctx: MailContext, path: string, token: string): string {
  const base = ctx.publicUrl.href.endsWith('/') ? ctx.publicUrl.href : `${ctx.publicUrl.href}/`;
  const url = new URL(path, base);
  url.searchParams.set('token', token);
  return url.href;
}

/** A link's lifetime as a person reads it: minutes up to two hours, then hours. */
export function durationText(seconds: number): string {
  const minutes = Math.max(1, Math.round(seconds / 60));
  if (minutes < 120) return minutes === 1 ? '1 minute' : `${minutes} minutes`;
  return `${Math.round(minutes / 60)} hours`;
}

/**
 * The verification link. `confirmOnly`: the account already works without it (sign-up without
 * required verification, an imported account), so "ignore this mail" would leave someone else's
 * account on the address: the mail says how to take the address back instead.
 */
export function verifyEmailMail(
  ctx: MailContext,
  to: string,
  token: string,
  ttlSeconds: number,
  confirmOnly = false,
) {
  return compose({
    to,
    subject: `Confirm your email address for ${ctx.serviceName}`,
    paragraphs: [
      confirmOnly
        ? `A ${ctx.serviceName} account uses this email address. Confirm that the address is yours.`
        : `Welcome to ${ctx.serviceName}. Confirm that this is your email address to finish setting up your account.`,
      `The link works once and expires in ${durationText(ttlSeconds)}.`,
    ],
    action: { label: 'Confirm my email address', url: linkTo(ctx, 'verify-email', token) },
    footer: confirmOnly
      ? `If you did not create this account, do not follow the link: someone else used your address. To take it back, use "Forgot password" on the sign-in page; the reset signs them out and removes what they set up.`
      : `If you did not sign up for ${ctx.serviceName}, ignore this mail: no account is activated without this link.`,
  });
}

/**
 * Sent instead of a verification mail when an unverified address already has as many pending
 * sign-ups as are kept: a reset link proves the mailbox just as well and sets the password.
 */
export function signupLimitMail(ctx: MailContext, to: string) {
  return compose({
    to,
    subject: `Finish signing up for ${ctx.serviceName}`,
    paragraphs: [
      `Someone tried to create a ${ctx.serviceName} account with this email address, but it already has several sign-ups waiting for confirmation, so no new confirmation link was sent.`,
      'If you are signing up: use "Forgot password" on the sign-in page. The reset link we mail you confirms this address and sets your password; every other pending sign-up stops working.',
    ],
    footer: `If you did not sign up for ${ctx.serviceName}, ignore this mail: no account is activated without a link sent to this address.`,
  });
}

/** Sent instead of a verification mail when someone signs up with an address that has an account. */
export function signupAttemptMail(ctx: MailContext, to: string) {
  return compose({
    to,
    subject: `Someone tried to sign up for ${ctx.serviceName} with your email address`,
    paragraphs: [
      `Someone tried to create a new ${ctx.serviceName} account with this email address, but you already have one. No new account was created and nothing about your account changed.`,
      'If it was you, sign in instead, or reset your password if you have forgotten it.',
    ],
    footer: 'If it was not you, you can ignore this mail.',
  });
}
