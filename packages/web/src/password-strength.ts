import type { ZxcvbnFactory, ZxcvbnResult } from '@zxcvbn-ts/core';
import {
  COMMON_PASSWORD_MESSAGE,
  checkPersonalInfo,
  normalizePassword,
  tooGuessableReason,
  ZXCVBN_L33T_VARIANTS,
  ZXCVBN_WINDOW,
  zxcvbnSuggestion,
  zxcvbnTranslations,
} from '@latchkey/contract';

/**
 * The server's password rules (packages/contract/src/password-rules.ts, shared), run in the
 * browser to explain a weak password while it is typed: length in code points after NFKC, the
 * server's own common-password list (fetched from /common-passwords.txt), built from the email,
 * the name or the service name, and zxcvbn-ts's score. The server stays the authority.
 */

export interface PolicyOptions {
  minLength: number;
  minScore: number;
  maxLength: number;
  serviceName: string;
}

export interface StrengthResult {
  ok: boolean;
  /** zxcvbn's 0–4 (0 for refused-by-rule passwords too). */
  score: number;
  /** Why the password is refused, a sentence; undefined when it is fine. */
  message: string | undefined;
  /** A tip, also for acceptable passwords that could be better. */
  suggestion: string | undefined;
}

// ---- lazily loaded parts: zxcvbn's dictionaries (~1 MB) and the common list ----

let zxcvbn: ZxcvbnFactory | undefined;
let zxcvbnLoading: Promise<ZxcvbnFactory> | undefined;
let common: Set<string> | undefined;
let commonLoading: Promise<Set<string>> | undefined;

export function loadZxcvbn(): Promise<ZxcvbnFactory> {
  zxcvbnLoading ??= Promise.all([import('@zxcvbn-ts/core'), import('@zxcvbn-ts/language-common')])
    .then(([core, language]) => {
      zxcvbn = new core.ZxcvbnFactory({
        dictionary: language.dictionary,
        graphs: language.adjacencyGraphs,
        translations: zxcvbnTranslations,
        l33tMaxSubstitutions: ZXCVBN_L33T_VARIANTS,
        maxLength: 256,
      });
      return zxcvbn;
    })
    .catch((error: unknown) => {
      zxcvbnLoading = undefined;
      throw error;
    });
  return zxcvbnLoading;
}

export function loadCommonPasswords(url = '/common-passwords.txt'): Promise<Set<string>> {
  commonLoading ??= fetch(url)
    .then((response) => (response.ok ? response.text() : ''))
    .then((text) => {
      common = new Set(text.split('\n').filter((line) => line.length > 0));
      return common;
    })
    .catch(() => {
      commonLoading = undefined;
      return new Set<string>();
    });
  return commonLoading;
}

/** Tests: set the list directly. */
export function setCommonPasswords(list: Iterable<string>): void {
  common = new Set(list);
  commonLoading = Promise.resolve(common);
}

/** Loads what checkPassword needs (call when a password field is first used). */
export async function preparePasswordCheck(): Promise<void> {
  await Promise.all([loadZxcvbn(), loadCommonPasswords()]);
}

const refuse = (message: string, suggestion?: string): StrengthResult => ({
  ok: false,
  score: 0,
  message,
  suggestion,
});

/**
 * The verdict on a password. Synchronous; before preparePasswordCheck() has finished it judges
 * the length only (and says the rest is pending via `score: -1`).
 */
export function checkPassword(
  password: string,
  options: PolicyOptions,
  context: { email?: string; name?: string } = {},
): StrengthResult {
  const normalized = normalizePassword(password);
  const chars = [...normalized];
  if (chars.length < options.minLength) {
    return refuse(
      `Use at least ${options.minLength} characters (${chars.length} so far).`,
      'A few unrelated words make a long password that is easy to remember.',
    );
  }
  if (chars.length > options.maxLength)
    return refuse(`Use at most ${options.maxLength} characters.`);
  if (common?.has(normalized.toLowerCase())) return refuse(COMMON_PASSWORD_MESSAGE);
  const personal = checkPersonalInfo(normalized, options.minLength, options.serviceName, context);
  if (personal.message) return refuse(personal.message);
  if (!zxcvbn) return { ok: true, score: -1, message: undefined, suggestion: undefined };
  const result: ZxcvbnResult = zxcvbn.check(
    chars.slice(0, ZXCVBN_WINDOW).join(''),
    personal.userInputs,
  );
  // Acceptable passwords get only specific advice, not the generic "add another word".
  const suggestion =
    result.score < 4
      ? zxcvbnSuggestion(result)
      : result.feedback.suggestions.find((s) => s !== zxcvbnTranslations.suggestions.anotherWord);
  if (options.minScore > 0 && result.score < options.minScore) {
    return { ok: false, score: result.score, message: tooGuessableReason(result), suggestion };
  }
  return { ok: true, score: result.score, message: undefined, suggestion };
}

export const SCORE_LABELS = ['Very weak', 'Weak', 'Fair', 'Strong', 'Very strong'] as const;
