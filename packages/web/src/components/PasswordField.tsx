import { type ComponentPropsWithRef } from 'react';
import type { PolicyOptions } from '../password-strength.js';
import { StrengthMeter } from './StrengthMeter.js';
import { Field } from './ui.js';

/**
 * A new password with its live strength meter. When the field's error is the meter's own
 * reason (a refused submit), the reason is said once, as the field's error.
 */
export function PasswordField({
  label,
  error,
  password,
  policy,
  email,
  displayName,
  ...input
}: ComponentPropsWithRef<'input'> & {
  label: string;
  error: string | undefined;
  password: string;
  policy: PolicyOptions;
  email?: string | undefined;
  /** The person's name, which a password must not be built from. */
  displayName?: string | undefined;
}) {
  return (
    <Field
      label={label}
      type="password"
      autoComplete="new-password"
      error={error}
      hint={
        <StrengthMeter
          password={password}
          policy={policy}
          email={email}
          name={displayName}
          shownError={error}
        />
      }
      {...input}
    />
  );
}
