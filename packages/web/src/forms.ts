import * as s from '@latchkey/contract';
import { z } from 'zod';

/** Form schemas built from the API's own (`@latchkey/contract`), plus what only forms have. */

const confirm = z.string().min(1, 'Type the password again.');
const same = (a: string, b: string) => (value: Record<string, string>) => value[a] === value[b];

export const registerForm = z
  .object({
    email: s.email,
    password: s.password,
    confirm,
    name: z.string().trim().max(100, 'A name has at most 100 characters.'),
  })
  .refine(same('password', 'confirm'), { path: ['confirm'], message: 'The two passwords differ.' });
export type RegisterForm = z.input<typeof registerForm>;

export const loginForm = s.loginBody;
export type LoginForm = z.input<typeof loginForm>;

export const emailForm = s.emailOnlyBody;
export type EmailForm = z.input<typeof emailForm>;

export const resetForm = z
  .object({ password: s.password, confirm })
  .refine(same('password', 'confirm'), { path: ['confirm'], message: 'The two passwords differ.' });
export type ResetForm = z.input<typeof resetForm>;

export const changePasswordForm = z
  .object({
    currentPassword: s.changePasswordBody.shape.currentPassword,
    newPassword: s.changePasswordBody.shape.newPassword,
    confirm,
  })
  .refine(same('newPassword', 'confirm'), {
    path: ['confirm'],
    message: 'The two passwords differ.',
  });
export type ChangePasswordForm = z.input<typeof changePasswordForm>;

export const changeEmailForm = s.changeEmailBody;
export type ChangeEmailForm = z.input<typeof changeEmailForm>;

/** Your own display name (PATCH /auth/me), with the contract's rule. */
export const profileForm = s.updateMeBody;
export type ProfileForm = z.input<typeof profileForm>;

/**
 * The contract's name rule carries no words of its own (the server's answer has them): these
 * are the form's, for `zodResolver(profileForm, { error: profileFormErrors })`. The limit comes
 * from the rule itself.
 */
export const profileFormErrors: z.core.$ZodErrorMap = (issue) => {
  if (issue.code === 'too_small') return 'Enter a name.';
  if (issue.code === 'too_big') return `A name has at most ${String(issue.maximum)} characters.`;
  return undefined;
};
