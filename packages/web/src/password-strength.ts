import type { ZxcvbnFactory, ZxcvbnResult } from '@zxcvbn-ts/core';

/**
 * The server's password policy (packages/server/src/core/password-policy.ts), run in the
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

const warnings = {
  straightRow: 'it is a straight row of keys on the keyboard',
  keyPattern: 'it is a short keyboard pattern',
  simpleRepeat: 'it repeats the same character',
  extendedRepeat: 'it repeats the same group of characters',
  sequences: 'it uses a predictable sequence such as "abc" or "1234"',
  recentYears: 'it contains a recent year',
  dates: 'it contains a date',
  topTen: 'it is one of the ten most used passwords',
  topHundred: 'it is one of the hundred most used passwords',
  common: 'it is a commonly used password',
  similarToCommon: 'it is very similar to a commonly used password',
  wordByItself: 'it is a single word',
  namesByThemselves: 'it is a single name',
  commonNames: 'it contains a common name',
  userInputs: 'it contains your email address, your name or the name of this service',
  pwned: 'it has appeared in a data breach',
};
const suggestions = {
  l33t: 'Swapping letters for look-alike symbols, like "@" for "a", does not help much.',
  reverseWords: 'Spelling a common word backwards does not help much.',
  allUppercase: 'Capitalize some letters, not all of them.',
  capitalization: 'Capitalize more than the first letter.',
  dates: 'Avoid dates and years that are connected to you.',
  recentYears: 'Avoid recent years.',
  associatedYears: 'Avoid years that are connected to you.',
  sequences: 'Avoid predictable sequences of characters.',
  repeated: 'Avoid repeated words and characters.',
  longerKeyboardPattern: 'Avoid patterns that follow the keyboard layout.',
  anotherWord: 'Add a few more words, preferably uncommon ones.',
  useWords: 'Use several words, but avoid common phrases.',
  noNeed: 'You do not need symbols, digits or capital letters to make a strong password.',
  pwned: 'If you use this password anywhere else, change it there too.',
};
const GENERIC_REASON = 'it is made of words or patterns that password-guessing tools try early';
const ZXCVBN_WINDOW = 64;

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
        translations: {
          warnings,
          suggestions,
          timeEstimation: {
            ltSecond: '',
            second: '',
            seconds: '',
            minute: '',
            minutes: '',
            hour: '',
            hours: '',
            day: '',
            days: '',
            month: '',
            months: '',
            year: '',
            years: '',
            centuries: '',
          },
        },
        l33tMaxSubstitutions: 10,
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

// ---- built from the email, the name or the service name (as on the server) ----

type Source = 'email' | 'name' | 'service';
interface Piece {
  text: string;
  source: Source;
}
const NOT_LETTER_OR_DIGIT = /[^\p{L}\p{N}]/gu;
const codePoints = (s: string) => [...s].length;
const normalizeContext = (s: string) => s.normalize('NFKC').toLowerCase().trim();
const words = (s: string) => s.split(NOT_LETTER_OR_DIGIT).filter((w) => w.length > 0);

function contextPieces(serviceName: string, email?: string, name?: string): Piece[] {
  const pieces: Piece[] = [];
  const add = (text: string, source: Source, min = 3) => {
    if (codePoints(text) >= min) pieces.push({ text, source });
  };
  if (email) {
    const full = normalizeContext(email);
    const at = full.lastIndexOf('@');
    const local = at >= 0 ? full.slice(0, at) : full;
    add(full, 'email');
    add(local, 'email');
    for (const word of words(local)) add(word, 'email', 4);
  }
  if (name) {
    const full = normalizeContext(name);
    add(full, 'name');
    for (const word of words(full)) add(word, 'name', 4);
  }
  add(normalizeContext(serviceName), 'service');
  return pieces;
}

function removePieces(text: string, pieces: Piece[], found: Set<Source>): string {
  let current = text;
  for (let changed = true; changed;) {
    changed = false;
    for (const piece of pieces) {
      if (current.includes(piece.text)) {
        current = current.split(piece.text).join('');
        for (const p of pieces) if (p.text === piece.text) found.add(p.source);
        changed = true;
      }
    }
  }
  return current;
}

const SOURCE_WORDING: Record<Source, string> = {
  email: 'your email address',
  name: 'your name',
  service: 'the name of this service',
};

function personalInfoMessage(found: Set<Source>): string {
  const parts = (['email', 'name', 'service'] as const)
    .filter((s) => found.has(s))
    .map((s) => SOURCE_WORDING[s]);
  const list =
    parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}` : (parts[0] ?? '');
  return `This password is too close to ${list}. Choose one that does not rely on ${parts.length > 1 ? 'them' : 'it'}.`;
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
  const normalized = password.normalize('NFKC');
  const chars = [...normalized];
  if (chars.length < options.minLength) {
    return refuse(
      `Use at least ${options.minLength} characters (${chars.length} so far).`,
      'A few unrelated words make a long password that is easy to remember.',
    );
  }
  if (chars.length > options.maxLength)
    return refuse(`Use at most ${options.maxLength} characters.`);
  if (common?.has(normalized.toLowerCase())) {
    return refuse(
      'This password is on a list of commonly used passwords. Choose a less predictable one.',
    );
  }
  const pieces = contextPieces(options.serviceName, context.email, context.name);
  const byLength = [...pieces].sort((a, b) => b.text.length - a.text.length);
  const found = new Set<Source>();
  let rest = removePieces(normalized.toLowerCase(), byLength, found).replace(
    NOT_LETTER_OR_DIGIT,
    '',
  );
  const bare = byLength
    .map((p) => ({ ...p, text: p.text.replace(NOT_LETTER_OR_DIGIT, '') }))
    .filter((p) => codePoints(p.text) >= 3);
  rest = removePieces(rest, bare, found);
  const restLength = codePoints(rest);
  if (found.size > 0 && (restLength < options.minLength || restLength < chars.length / 2)) {
    return refuse(personalInfoMessage(found));
  }
  if (!zxcvbn) return { ok: true, score: -1, message: undefined, suggestion: undefined };
  const serviceWords = words(normalizeContext(options.serviceName)).filter(
    (w) => codePoints(w) >= 3,
  );
  const userInputs = [...new Set([...pieces.map((p) => p.text), ...serviceWords])];
  const result: ZxcvbnResult = zxcvbn.check(chars.slice(0, ZXCVBN_WINDOW).join(''), userInputs);
  const suggestion =
    result.feedback.suggestions.find((s) => s !== suggestions.anotherWord) ??
    (result.score < 4 ? suggestions.anotherWord : undefined);
  if (options.minScore > 0 && result.score < options.minScore) {
    return {
      ok: false,
      score: result.score,
      message: `This password is too easy to guess: ${result.feedback.warning || GENERIC_REASON}.`,
      suggestion,
    };
  }
  return { ok: true, score: result.score, message: undefined, suggestion };
}

export const SCORE_LABELS = ['Very weak', 'Weak', 'Fair', 'Strong', 'Very strong'] as const;
