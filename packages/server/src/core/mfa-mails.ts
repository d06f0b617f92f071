import { compose, type MailContext } from './mail-templates.js';

/** The mails of second factors: the owner hears of every factor added or removed. */

export type FactorChange =
  | { kind: 'added'; factor: string }
  | { kind: 'removed'; factor: string }
  | { kind: 'reset_by_admin' };

export function factorChangedMail(ctx: MailContext, to: string, change: FactorChange) {
  const what =
    change.kind === 'reset_by_admin'
      ? `An administrator removed every second factor (authenticator app, recovery codes and passkeys) of your ${ctx.serviceName} account. Signing in now needs only your password until you set up a new factor on your account page.`
      : change.kind === 'added'
        ? `${change.factor} was added to the two-step sign-in of your ${ctx.serviceName} account.`
        : `${change.factor} was removed from the two-step sign-in of your ${ctx.serviceName} account.`;
  return compose({
    to,
    subject:
      change.kind === 'added'
        ? `A second factor was added to your ${ctx.serviceName} account`
        : `A second factor was removed from your ${ctx.serviceName} account`,
    paragraphs: [what, 'If it was you, there is nothing to do.'],
    footer: `If it was not you, change your password at once and check the two-step sign-in section of your account page: someone else may control your account.`,
  });
}
