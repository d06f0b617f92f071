import type { ZxcvbnFactory } from '@zxcvbn-ts/core';
import {
  judgePassword,
  normalizePassword,
  tooGuessableReason,
  ZXCVBN_OPTIONS,
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
        ...ZXCVBN_OPTIONS,
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
  const verdict = judgePassword(normalized, options, context, { common, zxcvbn });
  const { result } = verdict;
  if (!verdict.ok && verdict.reason === 'too_short') {
    return refuse(
      `Use at least ${options.minLength} characters (${[...normalized].length} so far).`,
      'A few unrelated words make a long password that is easy to remember.',
    );
  }
  if (!result) {
    if (!verdict.ok) return refuse(verdict.message);
    return { ok: true, score: -1, message: undefined, suggestion: undefined };
  }
  // Acceptable passwords get only specific advice, not the generic "add another word".
  const suggestion =
    result.score < 4
      ? zxcvbnSuggestion(result)
      : result.feedback.suggestions.find((s) => s !== zxcvbnTranslations.suggestions.anotherWord);
  if (!verdict.ok) {
    // The meter shows the suggestion on its own line: the message is the reason alone.
    return { ok: false, score: result.score, message: tooGuessableReason(result), suggestion };
  }
  return { ok: true, score: result.score, message: undefined, suggestion };
}

export const SCORE_LABELS = ['Very weak', 'Weak', 'Fair', 'Strong', 'Very strong'] as const;
