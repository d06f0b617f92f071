import { useApp } from '../app-context.js';
import { checkPassword, type PolicyOptions } from '../password-strength.js';

/**
 * The server's password rules as the pages know them, and a check that refuses a weak
 * password on its field before anything is sent.
 */
export function usePasswordPolicy(): {
  policy: PolicyOptions;
  /** The reason a password would be refused, or undefined when it would be accepted. */
  refusal(password: string, context?: { email?: string; name?: string }): string | undefined;
} {
  const { config } = useApp();
  const policy = { ...config.password, serviceName: config.serviceName };
  return {
    policy,
    refusal(password, context = {}) {
      const verdict = checkPassword(password, policy, context);
      return verdict.ok ? undefined : (verdict.message ?? 'Choose a stronger password.');
    },
  };
}
