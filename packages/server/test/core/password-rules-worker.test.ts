import { readFileSync } from 'node:fs';
import { judgePassword, ZXCVBN_OPTIONS } from '@latchkey/contract';
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary } from '@zxcvbn-ts/language-common';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createPasswordPolicy,
  type PasswordCheck,
  type PasswordRejection,
} from '../../src/core/password-policy.js';
import { OWASP_MINIMUM, PasswordHasher } from '../../src/core/passwords.js';
import { fullWidth, varied } from '../support/password-samples.js';

const alice = { email: 'alice.smith@example.com', name: 'Alice Smith' };
const refused = (reason: PasswordRejection, message: string): PasswordCheck => ({
  ok: false,
  reason,
  message,
});
const TOO_SHORT = refused('too_short', 'Use at least 15 characters.');
const TOO_LONG = refused('too_long', 'Use at most 256 characters.');
const COMMON = refused(
  'common',
  'This password is on a list of commonly used passwords. Choose a less predictable one.',
);
const guessable = (why: string, advice: string) =>
  refused('too_guessable', `This password is too easy to guess: ${why}. ${advice}`);
const REPEATS = 'Avoid repeated words and characters.';

// The verdicts of the rules as they ran on the event loop before they moved to the hashing
// threads (minimum length 15, score 3, service "Latchkey"), message for message.
const table: [string, string, { email?: string; name?: string }, PasswordCheck][] = [
  ['short', 'vortex-maple-q', {}, TOO_SHORT],
  ['short after NFKC', 'e\u0301'.repeat(10), {}, TOO_SHORT],
  ['common', 'polniypizdec0211', {}, COMMON],
  ['common in full-width capitals', fullWidth('1QAZ2WSX3EDC4RFV'), {}, COMMON],
  [
    'built from the email',
    'alicesmith123456',
    alice,
    refused(
      'personal_info',
      'This password is too close to your email address and your name. Choose one that does not rely on them.',
    ),
  ],
  [
    'built from the name',
    'Marley_Bob_1945!jam',
    { name: 'Bob Marley' },
    refused(
      'personal_info',
      'This password is too close to your name. Choose one that does not rely on it.',
    ),
  ],
  [
    'built from the service name',
    'latchkey-password-2024',
    {},
    refused(
      'personal_info',
      'This password is too close to the name of this service. Choose one that does not rely on it.',
    ),
  ],
  [
    'one repeated character',
    'aaaaaaaaaaaaaaaa',
    {},
    guessable('it repeats the same character', REPEATS),
  ],
  [
    'a digit run',
    '1234567890123456',
    {},
    guessable(
      'it is very similar to a commonly used password',
      'Add a few more words, preferably uncommon ones.',
    ),
  ],
  [
    'a keyboard row',
    'qwertyuiopasdfgh',
    {},
    guessable(
      'it is very similar to a commonly used password',
      'Add a few more words, preferably uncommon ones.',
    ),
  ],
  [
    'a l33t repetition',
    `${'p@ssw0rd'.repeat(31)}12345678`,
    {},
    guessable('it repeats the same group of characters', REPEATS),
  ],
  [
    'a weak beginning with a strong tail',
    `${'a'.repeat(64)}${varied(192)}`,
    {},
    guessable('it repeats the same character', REPEATS),
  ],
  ['a Tr0ub4dor', 'Tr0ub4dor&3Tr0ub4dor', {}, { ok: true }],
  ['a passphrase', 'correct-horse-battery-staple-vortex', {}, { ok: true }],
  ['the bench password', 'Quiet-Lantern-Orbit-5812-Mosaic', {}, { ok: true }],
  ['a strong beginning with a weak tail', `${varied(64)}${'a'.repeat(192)}`, {}, { ok: true }],
  ['256 varied characters, with a context', varied(256), alice, { ok: true }],
  [
    'repeated emoji',
    '🔑'.repeat(15),
    {},
    guessable('it repeats the same group of characters', REPEATS),
  ],
  [
    'repeated astral CJK',
    '𠀀'.repeat(15),
    {},
    guessable('it repeats the same group of characters', REPEATS),
  ],
  ['accented words', 'Ünïcödé-Pässwörd-Ørbit-5812', {}, { ok: true }],
  [
    'ligatures (longer after NFKC)',
    '\ufb01'.repeat(8),
    {},
    guessable('it repeats the same group of characters', REPEATS),
  ],
  ['257 characters', varied(257), {}, TOO_LONG],
  ['huge', 'x'.repeat(100_000), {}, TOO_LONG],
];

const rules = { minLength: 15, minScore: 3, serviceName: 'Latchkey' };

describe('the password rules on the hashing threads', () => {
  const hasher = new PasswordHasher(OWASP_MINIMUM, { concurrency: 2, queueMax: 10 });
  const policy = createPasswordPolicy({ ...rules, hasher });
  afterAll(() => hasher.close());

  it.each(table)('judge %s as the event loop did', async (_label, password, context, before) => {
    expect(await policy.evaluate(password, context)).toEqual(before);
  });

  it('judge as the pages do: one shared function', () => {
    const common = new Set(
      readFileSync(new URL('../../assets/common-passwords.txt', import.meta.url), 'utf8')
        .split('\n')
        .filter((line) => line.length > 0),
    );
    const zxcvbn = new ZxcvbnFactory({ dictionary, graphs: adjacencyGraphs, ...ZXCVBN_OPTIONS });
    for (const [, password, context, before] of table.filter(([label]) => label !== 'huge')) {
      const verdict = judgePassword(password.normalize('NFKC'), rules, context, { common, zxcvbn });
      const { result: _zxcvbn, ...answer } = verdict;
      expect(answer).toEqual(before);
    }
  });

  it('hash a new password in the same job when it passes, and only then', async () => {
    const accepted = await policy.accept('Quiet-Lantern-Orbit-5812-Mosaic', {});
    expect(accepted.ok).toBe(true);
    const hash = accepted.ok ? accepted.hash : '';
    expect(await hasher.verify(hash, 'Quiet-Lantern-Orbit-5812-Mosaic')).toBe(true);
    // Hashed as normalised: the full-width form of the same password matches.
    const wide = await policy.accept(fullWidth('Quiet-Lantern-Orbit-5812-Mosaic'), {});
    expect(wide.ok && (await hasher.verify(wide.hash, 'Quiet-Lantern-Orbit-5812-Mosaic'))).toBe(
      true,
    );
    expect(await policy.accept('aaaaaaaaaaaaaaaa', {})).toEqual(
      guessable('it repeats the same character', REPEATS),
    );
  });

  it('judge the length before a thread: a huge password is never copied to one', async () => {
    // One thread, no queue: anything that needs the pool while it is busy is refused with 503.
    const busy = new PasswordHasher(OWASP_MINIMUM, { concurrency: 1, queueMax: 0 });
    const strict = createPasswordPolicy({ ...rules, hasher: busy });
    const running = busy.hash('keeps the only thread busy');
    expect(await strict.evaluate('x'.repeat(10_000_000))).toEqual(TOO_LONG);
    expect(await strict.evaluate(varied(257))).toEqual(TOO_LONG);
    expect(await strict.evaluate('vortex-maple-q')).toEqual(TOO_SHORT);
    await expect(strict.evaluate('correct-horse-battery-staple-vortex')).rejects.toMatchObject({
      code: 'server_busy',
    });
    await running;
    await busy.close();
  });

  it('leave the event loop free while zxcvbn runs', async () => {
    // About as slow for zxcvbn as 64 characters get: many overlapping l33t dictionary matches.
    const heavy = 'p@ssw0rd'.repeat(8);
    await policy.evaluate(heavy); // both threads may start and load the lists first
    await policy.evaluate(heavy);
    let ticks = 0;
    let ticking = true;
    const tick = () => {
      ticks += 1;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const during: number[] = [];
    for (let i = 0; i < 3; i++) {
      const before = ticks;
      expect(await policy.evaluate(heavy)).toMatchObject({ reason: 'too_guessable' });
      during.push(ticks - before);
    }
    ticking = false;
    // On the event loop a judgement would let no tick through until it is done; on a thread
    // the loop keeps turning all along (hundreds of times on any machine).
    for (const count of during) expect(count).toBeGreaterThan(20);
  });
});
