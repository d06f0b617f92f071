import type { OptionsType, TranslationKeys, ZxcvbnFactory, ZxcvbnResult } from '@zxcvbn-ts/core';

/**
 * The password rules that need no server: shared by the policy the server enforces (its
 * hashing threads, core/hash-worker.js) and the strength meter of the web pages, so both judge
 * alike. No Node API and no runtime import here: the browser bundles this file, and the
 * server's worker threads load its build on their own (`@latchkey/contract/password-rules`).
 */

export const PASSWORD_MAX_LENGTH = 256;

/** NFKC normalisation; the form stored/hashed is the normalised one. */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

export /** Context pieces (email, name, service name) shorter than this are ignored. */
const MIN_PIECE_LENGTH = 3;

/**
 * Single words of the email's local part or of the name must be longer: cutting "ann" or "lee"
 * out of every password would refuse "channel-sleeve-…" for Ann Lee.
 */
const MIN_WORD_LENGTH = 4;

/**
 * zxcvbn's cost grows faster than the length (60-450 ms for 256 characters), so it judges this
 * many code points at most (a few ms). Guessing a password means guessing its beginning too, so
 * a strong beginning makes a strong password; later windows are not consulted: one that starts
 * inside a repetition ("eymonkeymonkey…") looks random to zxcvbn and would make "monkey" × 40
 * pass.
 */
export const ZXCVBN_WINDOW = 64;

/**
 * Cap on the l33t-substitution variants zxcvbn tries, each a full dictionary pass (default
 * 100). Full substitutions come first, so classic l33t passwords score the same with 10.
 */
const ZXCVBN_L33T_VARIANTS = 10;

const NOT_LETTER_OR_DIGIT = /[^\p{L}\p{N}]/gu;

export const COMMON_PASSWORD_MESSAGE =
  'This password is on a list of commonly used passwords. Choose a less predictable one.';

// zxcvbn-ts's feedback comes as keys unless translations are given, and
// @zxcvbn-ts/language-en is not a dependency: hence the English below. Warnings read as the
// reason after "too easy to guess: ".
export const zxcvbnTranslations: TranslationKeys = {
  warnings: {
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
  },
  suggestions: {
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
  },
  timeEstimation: {
    ltSecond: 'less than a second',
    second: '{base} second',
    seconds: '{base} seconds',
    minute: '{base} minute',
    minutes: '{base} minutes',
    hour: '{base} hour',
    hours: '{base} hours',
    day: '{base} day',
    days: '{base} days',
    month: '{base} month',
    months: '{base} months',
    year: '{base} year',
    years: '{base} years',
    centuries: 'centuries',
  },
};

/** zxcvbn-ts's options but its dictionaries, which the server and the pages load their own way. */
export const ZXCVBN_OPTIONS = {
  translations: zxcvbnTranslations,
  l33tMaxSubstitutions: ZXCVBN_L33T_VARIANTS,
  maxLength: PASSWORD_MAX_LENGTH,
} satisfies OptionsType;

const GENERIC_REASON = 'it is made of words or patterns that password-guessing tools try early';

/** The advice specific to the weakness zxcvbn found, else its generic "add another word". */
export function zxcvbnSuggestion({ feedback }: ZxcvbnResult): string {
  // zxcvbn puts its generic "add another word" first; the specific advice comes after it.
  return (
    feedback.suggestions.find((s) => s !== zxcvbnTranslations.suggestions.anotherWord) ??
    zxcvbnTranslations.suggestions.anotherWord
  );
}

/** Why zxcvbn finds a password weak, as a sentence. */
export function tooGuessableReason({ feedback }: ZxcvbnResult): string {
  // Without a warning (zxcvbn gives none above score 2, or for plain guessable text) the
  // generic reason stands in.
  return `This password is too easy to guess: ${feedback.warning || GENERIC_REASON}.`;
}

// ---------------------------------------------------------------------------------------------
// Built from the email, the name or the service name.

type PieceSource = 'email' | 'name' | 'service';

interface Piece {
  text: string;
  source: PieceSource;
}

const codePoints = (s: string) => [...s].length;
const normalizeContext = (s: string) => s.normalize('NFKC').toLowerCase().trim();
const words = (s: string) => s.split(NOT_LETTER_OR_DIGIT).filter((w) => w.length > 0);

function contextPieces(serviceName: string, email?: string, name?: string | null): Piece[] {
  const pieces: Piece[] = [];
  const add = (text: string, source: PieceSource, min = MIN_PIECE_LENGTH) => {
    if (codePoints(text) >= min) pieces.push({ text, source });
  };
  if (email) {
    const full = normalizeContext(email);
    const at = full.lastIndexOf('@');
    const local = at >= 0 ? full.slice(0, at) : full;
    add(full, 'email');
    add(local, 'email');
    for (const word of words(local)) add(word, 'email', MIN_WORD_LENGTH);
  }
  if (name) {
    const full = normalizeContext(name);
    add(full, 'name');
    for (const word of words(full)) add(word, 'name', MIN_WORD_LENGTH);
  }
  // The service name's words ("app" in "My App") are too generic to cut out of passwords;
  // zxcvbn still gets them as user inputs.
  add(normalizeContext(serviceName), 'service');
  return pieces;
}

/**
 * Removes every occurrence of each piece (in the order given: longest first), until none is
 * left, and records where the removed pieces came from (all places: "alice" may be both in the
 * email and the name).
 */
function removePieces(text: string, pieces: Piece[], found: Set<PieceSource>): string {
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

const SOURCE_WORDING: Record<PieceSource, string> = {
  email: 'your email address',
  name: 'your name',
  service: 'the name of this service',
};

function personalInfoMessage(found: Set<PieceSource>): string {
  const parts = (['email', 'name', 'service'] as const)
    .filter((s) => found.has(s))
    .map((s) => SOURCE_WORDING[s]);
  const list =
    parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}` : (parts[0] ?? '');
  const pronoun = parts.length > 1 ? 'them' : 'it';
  return `This password is too close to ${list}. Choose one that does not rely on ${pronoun}.`;
}

export interface PersonalInfoVerdict {
  /** Set when the password is built from the email, the name or the service name. */
  message: string | undefined;
  /** What zxcvbn should know of the user (the same pieces, and the service name's words). */
  userInputs: string[];
}

/**
 * Cuts the email, its local part and words, the name and its words, and the service name out
 * of the (normalised) password; when what is left (letters and digits) is shorter than the
 * minimum length, or than half the password, it is built from them.
 */
export function checkPersonalInfo(
  normalized: string,
  minLength: number,
  serviceName: string,
  context: { email?: string | undefined; name?: string | null | undefined },
): PersonalInfoVerdict {
  const pieces = contextPieces(serviceName, context.email, context.name);
  const byLength = [...pieces].sort((a, b) => b.text.length - a.text.length);
  const found = new Set<PieceSource>();
  let rest = removePieces(normalized.toLowerCase(), byLength, found);
  rest = rest.replace(NOT_LETTER_OR_DIGIT, '');
  // "alicesmith" still counts as the email "alice.smith@…": remove the pieces' bare forms.
  const bare = byLength
    .map((p) => ({ ...p, text: p.text.replace(NOT_LETTER_OR_DIGIT, '') }))
    .filter((p) => codePoints(p.text) >= MIN_PIECE_LENGTH);
  rest = removePieces(rest, bare, found);
  const restLength = codePoints(rest);
  const builtFrom =
    found.size > 0 && (restLength < minLength || restLength < codePoints(normalized) / 2);
  const serviceWords = words(normalizeContext(serviceName)).filter(
    (w) => codePoints(w) >= MIN_PIECE_LENGTH,
  );
  return {
    message: builtFrom ? personalInfoMessage(found) : undefined,
    userInputs: [...new Set([...pieces.map((p) => p.text), ...serviceWords])],
  };
}

// ---------------------------------------------------------------------------------------------
// The verdict.

export type PasswordRefusal =
  'too_short' | 'too_long' | 'common' | 'personal_info' | 'too_guessable';

export interface PasswordRules {
  minLength: number;
  /** zxcvbn's score a password needs (0-4); 0 turns zxcvbn off. */
  minScore: number;
  serviceName: string;
}

export type PasswordJudgement =
  | { ok: true; result: ZxcvbnResult | undefined }
  | {
      ok: false;
      reason: PasswordRefusal;
      message: string;
      /** zxcvbn's result when it made the refusal. */
      result: ZxcvbnResult | undefined;
    };

type Refused = Extract<PasswordJudgement, { ok: false }>;

const refusal = (reason: PasswordRefusal, message: string, result?: ZxcvbnResult): Refused => ({
  ok: false,
  reason,
  message,
  result,
});

/** The length rule alone (in code points): it needs no list and no zxcvbn, so it goes first. */
export function judgeLength(length: number, minLength: number): Refused | undefined {
  if (length < minLength) return refusal('too_short', `Use at least ${minLength} characters.`);
  if (length > PASSWORD_MAX_LENGTH) {
    return refusal('too_long', `Use at most ${PASSWORD_MAX_LENGTH} characters.`);
  }
  return undefined;
}

/**
 * Every rule, in order, on a normalised password: length, the common list, built from the
 * email, the name or the service name, zxcvbn's score. The list and zxcvbn are skipped while
 * they are missing (the pages load them lazily; the server has no use for zxcvbn when
 * `minScore` is 0). zxcvbn runs whenever it is given: the pages' meter shows its score.
 */
export function judgePassword(
  normalized: string,
  rules: PasswordRules,
  context: { email?: string | undefined; name?: string | null | undefined },
  tools: { common?: ReadonlySet<string> | undefined; zxcvbn?: ZxcvbnFactory | undefined },
): PasswordJudgement {
  const chars = [...normalized];
  const length = judgeLength(chars.length, rules.minLength);
  if (length) return length;
  if (tools.common?.has(normalized.toLowerCase()))
    return refusal('common', COMMON_PASSWORD_MESSAGE);
  const personal = checkPersonalInfo(normalized, rules.minLength, rules.serviceName, context);
  if (personal.message) return refusal('personal_info', personal.message);
  if (!tools.zxcvbn) return { ok: true, result: undefined };
  const result = tools.zxcvbn.check(chars.slice(0, ZXCVBN_WINDOW).join(''), personal.userInputs);
  if (rules.minScore > 0 && result.score < rules.minScore) {
    return refusal(
      'too_guessable',
      `${tooGuessableReason(result)} ${zxcvbnSuggestion(result)}`,
      result,
    );
  }
  return { ok: true, result };
}
