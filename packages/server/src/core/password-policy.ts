import {
  judgeLength,
  normalizePassword,
  PASSWORD_MAX_LENGTH,
  type PasswordRefusal,
} from '@latchkey/contract';
import { type BreachCheck, createBreachCheck } from './breached-passwords.js';
import type { JudgeRequest, PasswordHasher, PasswordVerdict } from './passwords.js';

/**
 * Password policy (docs/security.md, "Policy"): length in code points after NFKC, no
 * composition rules, and refusal of common passwords, passwords built from the user's email,
 * name or the service name, and passwords zxcvbn-ts finds too guessable. The rules themselves
 * live in @latchkey/contract (password-rules.ts), which the web pages share; all but the length
 * run on the hashing pool's threads (core/hash-worker.js), off the event loop.
 */

export { normalizePassword, PASSWORD_MAX_LENGTH };

export interface PasswordPolicyOptions {
  minLength: number;
  minScore: number;
  serviceName: string;
  /** Where the rules run (and new passwords are hashed). */
  hasher: PasswordHasher;
  /** The optional breached-password lookup (HIBP_URL); without an answer it does not refuse. */
  breached?: BreachCheck | undefined;
}

export type PasswordRejection = PasswordRefusal | 'breached';

export type PasswordCheck =
  { ok: true } | { ok: false; reason: PasswordRejection; message: string };

type PasswordContext = { email?: string; name?: string | null };

/** A request's signal (its client hung up), and for `accept` a hash to take the salt of. */
type JobOptions = { signal?: AbortSignal | undefined; like?: string | undefined };

export interface PasswordPolicy {
  /** Every rule, then the breached-password lookup when one is configured. */
  evaluate(
    password: string,
    context?: PasswordContext,
    signal?: AbortSignal,
  ): Promise<PasswordCheck>;
  /**
   * `evaluate`, and the hash of the normalised password when it passes (in the same job on a
   * hashing thread): what sign-up and every password change use.
   */
  accept(
    password: string,
    context: PasswordContext,
    options?: JobOptions,
  ): Promise<{ ok: true; hash: string } | Extract<PasswordCheck, { ok: false }>>;
}

export const BREACHED_PASSWORD_MESSAGE =
  'This password appears in known data breaches, so attackers try it early. Choose another.';

/**
 * Above this many UTF-16 units a password is too long whatever NFKC makes of it (composition
 * shrinks text by a small factor at most), so huge inputs are refused before normalising.
 */
const RAW_LENGTH_GUARD = PASSWORD_MAX_LENGTH * 16;

/** The policy as configured (PASSWORD_*, HIBP_*); `warn` hears when a breach lookup failed. */
export function configuredPasswordPolicy(
  password: {
    minLength: number;
    minScore: number;
    breachCheck?: { url: string; timeoutMs: number } | undefined;
  },
  serviceName: string,
  hasher: PasswordHasher,
  warn: (message: string) => void,
): PasswordPolicy {
  const lookup = password.breachCheck;
  return createPasswordPolicy({
    minLength: password.minLength,
    minScore: password.minScore,
    serviceName,
    hasher,
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
  const { hasher, breached } = options;
  const rules = {
    minLength: options.minLength,
    minScore: options.minScore,
    serviceName: options.serviceName,
  };

  type Judged = { verdict: PasswordCheck; hash?: string | undefined };

  async function judge(
    password: string,
    context: PasswordContext,
    run: (normalized: string, judgement: JudgeRequest) => Promise<Judged>,
  ): Promise<Judged> {
    // The length is judged here: a huge password is never copied to a thread, and one of the
    // wrong length is never looked up.
    const huge = password.length > RAW_LENGTH_GUARD;
    const normalized = huge ? '' : normalizePassword(password);
    const refused = judgeLength(huge ? Infinity : [...normalized].length, rules.minLength);
    if (refused)
      return { verdict: { ok: false, reason: refused.reason, message: refused.message } };
    // The lookup waits on the network while the rules take CPU on a thread: run both at once.
    // It only decides when the rules accept, as if it had come after them.
    const [judged, seen] = await Promise.all([
      run(normalized, { rules, context }),
      breached?.(normalized),
    ]);
    if (judged.verdict.ok && seen) {
      return { verdict: { ok: false, reason: 'breached', message: BREACHED_PASSWORD_MESSAGE } };
    }
    return judged;
  }

  const verdictOnly = (verdict: PasswordVerdict): Judged => ({ verdict });

  return {
    async evaluate(password, context = {}, signal) {
      const { verdict } = await judge(password, context, (normalized, judgement) =>
        hasher.judge(normalized, judgement, signal).then(verdictOnly),
      );
      return verdict;
    },
    async accept(password, context, { signal, like } = {}) {
      const { verdict, hash } = await judge(password, context, (normalized, judgement) =>
        hasher.judgeAndHash(normalized, judgement, like, signal),
      );
      if (!verdict.ok) return verdict;
      if (hash === undefined) throw new Error('an accepted password came back without its hash');
      return { ok: true, hash };
    },
  };
}
