import { readFileSync } from 'node:fs';
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary } from '@zxcvbn-ts/language-common';
import {
  COMMON_PASSWORD_MESSAGE,
  checkPersonalInfo,
  normalizePassword,
  PASSWORD_MAX_LENGTH,
  tooGuessableReason,
  ZXCVBN_L33T_VARIANTS,
  ZXCVBN_WINDOW,
  zxcvbnSuggestion,
  zxcvbnTranslations,
} from '@latchkey/contract';
import { type BreachCheck, createBreachCheck } from './breached-passwords.js';

/**
 * Password policy (docs/security.md, "Policy"): length in code points after NFKC, no
 * composition rules, and refusal of common passwords, passwords built from the user's email,
 * name or the service name, and passwords zxcvbn-ts finds too guessable. The rules themselves
 * live in @latchkey/contract (password-rules.ts), which the web pages share.
 */

export { normalizePassword, PASSWORD_MAX_LENGTH };

export interface PasswordPolicyOptions {
  minLength: number;
  minScore: number;
  serviceName: string;
  /** The optional breached-password lookup (HIBP_URL); without an answer it does not refuse. */
  breached?: BreachCheck | undefined;
}

export type PasswordRejection =
  'too_short' | 'too_long' | 'common' | 'personal_info' | 'too_guessable' | 'breached';

export type PasswordCheck =
  { ok: true } | { ok: false; reason: PasswordRejection; message: string };

type PasswordContext = { email?: string; name?: string | null };

export interface PasswordPolicy {
  /** The rules that need nothing but the password and its context. */
  check(password: string, context?: PasswordContext): PasswordCheck;
  /** `check`, then the breached-password lookup when one is configured: what sign-up and every
   * password change use. */
  evaluate(password: string, context?: PasswordContext): Promise<PasswordCheck>;
}

export const BREACHED_PASSWORD_MESSAGE =
  'This password appears in known data breaches, so attackers try it early. Choose another.';

/**
 * Above this many UTF-16 units a password is too long whatever NFKC makes of it (composition
 * shrinks text by a small factor at most), so huge inputs are refused before normalising.
 */
const RAW_LENGTH_GUARD = PASSWORD_MAX_LENGTH * 16;

// Common-password list (assets/README.md says where it comes from), loaded once on first use.
let commonPasswords: Set<string> | undefined;

function isCommonPassword(normalized: string): boolean {
  if (!commonPasswords) {
    const text = readFileSync(
      new URL('../../assets/common-passwords.txt', import.meta.url),
      'utf8',
    );
    commonPasswords = new Set(text.split('\n').filter((line) => line.length > 0));
  }
  return commonPasswords.has(normalized.toLowerCase());
}

// zxcvbn-ts, configured once per process on first use.
let zxcvbnInstance: ZxcvbnFactory | undefined;

function zxcvbn(): ZxcvbnFactory {
  zxcvbnInstance ??= new ZxcvbnFactory({
    dictionary,
    graphs: adjacencyGraphs,
    translations: zxcvbnTranslations,
    l33tMaxSubstitutions: ZXCVBN_L33T_VARIANTS,
    maxLength: PASSWORD_MAX_LENGTH,
  });
  return zxcvbnInstance;
}

/** The policy as configured (PASSWORD_*, HIBP_*); `warn` hears when a breach lookup failed. */
export function configuredPasswordPolicy(
  password: {
    minLength: number;
    minScore: number;
    breachCheck?: { url: string; timeoutMs: number } | undefined;
  },
  serviceName: string,
  warn: (message: string) => void,
): PasswordPolicy {
  const lookup = password.breachCheck;
  return createPasswordPolicy({
    minLength: password.minLength,
    minScore: password.minScore,
    serviceName,
    breached: lookup
      ? createBreachCheck({
          ...lookup,
          onUnavailable: (reason) =>
            warn(
              `breached-password lookup failed (${reason}): the password was judged without it. Check HIBP_URL and the network.`,
            ),
        })
      : undefined,
  });
}

export function createPasswordPolicy(options: PasswordPolicyOptions): PasswordPolicy {
  const { minLength, minScore, serviceName } = options;
  const reject = (reason: PasswordRejection, message: string): PasswordCheck => ({
    ok: false,
    reason,
    message,
  });
  const tooLong = () => reject('too_long', `Use at most ${PASSWORD_MAX_LENGTH} characters.`);

  const policy: PasswordPolicy = {
    async evaluate(password, context = {}) {
      const verdict = policy.check(password, context);
      if (!verdict.ok || !options.breached) return verdict;
      const seen = await options.breached(normalizePassword(password));
      return seen ? reject('breached', BREACHED_PASSWORD_MESSAGE) : verdict;
    },
    check(password, context = {}) {
      if (password.length > RAW_LENGTH_GUARD) return tooLong();
      const normalized = normalizePassword(password);
      const chars = [...normalized];
      if (chars.length < minLength) {
        return reject('too_short', `Use at least ${minLength} characters.`);
      }
      if (chars.length > PASSWORD_MAX_LENGTH) return tooLong();
      if (isCommonPassword(normalized)) return reject('common', COMMON_PASSWORD_MESSAGE);

      const personal = checkPersonalInfo(normalized, minLength, serviceName, context);
      if (personal.message) return reject('personal_info', personal.message);

      if (minScore > 0) {
        const result = zxcvbn().check(chars.slice(0, ZXCVBN_WINDOW).join(''), personal.userInputs);
        if (result.score < minScore) {
          return reject(
            'too_guessable',
            `${tooGuessableReason(result)} ${zxcvbnSuggestion(result)}`,
          );
        }
      }
      return { ok: true };
    },
  };
  return policy;
}
