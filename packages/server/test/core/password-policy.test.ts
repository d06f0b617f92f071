import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createPasswordPolicy,
  normalizePassword,
  PASSWORD_MAX_LENGTH,
  type PasswordCheck,
  type PasswordPolicyOptions,
} from '../../src/core/password-policy.js';
import { OWASP_MINIMUM, PasswordHasher } from '../../src/core/passwords.js';
import { fullWidth, varied } from '../support/password-samples.js';

// The rules run on the hashing pool's threads, as in the service.
const hasher = new PasswordHasher(OWASP_MINIMUM, { concurrency: 2, queueMax: 100 });
afterAll(() => hasher.close());

const policy = (options: Partial<PasswordPolicyOptions> = {}) =>
  createPasswordPolicy({ minLength: 15, minScore: 3, serviceName: 'Latchkey', hasher, ...options });

/** Only the length and list rules: zxcvbn off. */
const lengthOnly = (minLength = 15) => policy({ minLength, minScore: 0 });

const alice = { email: 'alice.smith@example.com', name: 'Alice Smith' };

const reasonOf = (check: PasswordCheck) => (check.ok ? 'ok' : check.reason);
const messageOf = (check: PasswordCheck) => (check.ok ? '' : check.message);

const commonList = readFileSync(
  new URL('../../assets/common-passwords.txt', import.meta.url),
  'utf8',
).split('\n');

describe('normalizePassword', () => {
  it('applies NFKC: full-width letters, ligatures and composed accents', () => {
    expect(normalizePassword(fullWidth('Password1'))).toBe('Password1');
    expect(normalizePassword('\ufb01ne-\ufb02y')).toBe('fine-fly'); // "ﬁ" and "ﬂ" ligatures
    expect(normalizePassword('cafe\u0301')).toBe('caf\u00e9');
  });

  it('never truncates', () => {
    const long = varied(300);
    expect(normalizePassword(long)).toBe(long);
  });
});

describe('length', () => {
  it('refuses fewer than minLength characters with a message naming the minimum', async () => {
    const check = await lengthOnly(15).evaluate('vortex-maple-q');
    expect(check).toEqual({
      ok: false,
      reason: 'too_short',
      message: 'Use at least 15 characters.',
    });
    expect(messageOf(await lengthOnly(12).evaluate('short'))).toBe('Use at least 12 characters.');
  });

  it('accepts exactly minLength characters', async () => {
    expect(await lengthOnly(15).evaluate('vortex-maple-qu')).toEqual({ ok: true });
  });

  it('accepts 256 characters and refuses 257', async () => {
    expect(PASSWORD_MAX_LENGTH).toBe(256);
    expect(await lengthOnly().evaluate(varied(256))).toEqual({ ok: true });
    expect(await lengthOnly().evaluate(varied(257))).toEqual({
      ok: false,
      reason: 'too_long',
      message: 'Use at most 256 characters.',
    });
  });

  it('counts code points, not UTF-16 units: an emoji or astral character is one', async () => {
    expect('🔑'.repeat(14).length).toBe(28);
    expect(reasonOf(await lengthOnly(15).evaluate('🔑'.repeat(14)))).toBe('too_short');
    expect(await lengthOnly(15).evaluate('🔑'.repeat(15))).toEqual({ ok: true });
    // U+20000 (CJK extension B) is outside the BMP and unchanged by NFKC.
    expect(reasonOf(await lengthOnly(15).evaluate('𠀀'.repeat(14)))).toBe('too_short');
    expect(await lengthOnly(15).evaluate('𠀀'.repeat(15))).toEqual({ ok: true });
    expect(await lengthOnly().evaluate('🔑'.repeat(256))).toEqual({ ok: true });
    expect(reasonOf(await lengthOnly().evaluate('🔑'.repeat(257)))).toBe('too_long');
  });

  it('counts after NFKC: ligatures expand, combining accents compose', async () => {
    // 8 code points as typed, 16 after NFKC ("ﬁ" → "fi").
    expect(await lengthOnly(15).evaluate('\ufb01'.repeat(8))).toEqual({ ok: true });
    // 20 code points as typed ("e" + U+0301), 10 after NFKC ("é").
    expect(reasonOf(await lengthOnly(15).evaluate('e\u0301'.repeat(10)))).toBe('too_short');
    // Full-width letters become ASCII, one code point each.
    expect(reasonOf(await lengthOnly(15).evaluate(fullWidth('vortexmaplequa')))).toBe('too_short');
    expect(await lengthOnly(15).evaluate(fullWidth('vortexmaplequar'))).toEqual({ ok: true });
  });

  it('never truncates: passwords past 256 differing only at the end are both judged whole', async () => {
    const base = varied(256);
    const a = `${base}a`;
    const b = `${base}b`;
    expect(reasonOf(await lengthOnly().evaluate(a))).toBe('too_long');
    expect(reasonOf(await lengthOnly().evaluate(b))).toBe('too_long');
    expect(reasonOf(await lengthOnly().evaluate(`${base}${'x'.repeat(5000)}`))).toBe('too_long');
    // A 256-character password is taken whole, its last character included.
    expect(normalizePassword(base)).toHaveLength(256);
  });
});

describe('common passwords', () => {
  it('ships a lower-case, deduplicated list of at least 10,000 passwords', () => {
    const entries = commonList.filter((line) => line.length > 0);
    expect(entries.length).toBeGreaterThanOrEqual(10_000);
    expect(new Set(entries).size).toBe(entries.length);
    expect(entries.filter((entry) => entry !== entry.toLowerCase().normalize('NFKC'))).toEqual([]);
  });

  it.each(['password1', 'iloveyou12', 'qwerty123', 'princess1', 'football1'])(
    'refuses "%s", which is on the list',
    async (password) => {
      expect(commonList).toContain(password);
      const check = await lengthOnly(8).evaluate(password);
      expect(check).toEqual({
        ok: false,
        reason: 'common',
        message:
          'This password is on a list of commonly used passwords. Choose a less predictable one.',
      });
    },
  );

  it('compares case-insensitively, after NFKC', async () => {
    expect(reasonOf(await lengthOnly(8).evaluate('PassWord1'))).toBe('common');
    expect(reasonOf(await lengthOnly(8).evaluate(fullWidth('ILOVEYOU12')))).toBe('common');
  });

  it('checks the length first', async () => {
    expect(reasonOf(await lengthOnly(15).evaluate('password1'))).toBe('too_short');
  });

  it('leaves passwords that are not on the list alone', async () => {
    expect(commonList).not.toContain('vortex-maple-q1');
    expect(await lengthOnly(8).evaluate('vortex-maple-q1')).toEqual({ ok: true });
  });
});

describe('built from the email, the name or the service name', () => {
  it('refuses the email local part plus a few characters', async () => {
    const check = await lengthOnly(15).evaluate('alicesmith123456', { email: alice.email });
    expect(check).toEqual({
      ok: false,
      reason: 'personal_info',
      message:
        'This password is too close to your email address. Choose one that does not rely on it.',
    });
    expect(reasonOf(await lengthOnly(15).evaluate('Alice.Smith@Example.com!2024', alice))).toBe(
      'personal_info',
    );
  });

  it('refuses the service name plus a few characters', async () => {
    const check = await lengthOnly(15).evaluate('latchkey-password-2024');
    expect(reasonOf(check)).toBe('personal_info');
    expect(messageOf(check)).toMatch(/too close to the name of this service/);
    expect(reasonOf(await lengthOnly(15).evaluate('LatchKey2024LatchKey!'))).toBe('personal_info');
  });

  it('refuses name parts in any order, and names every source found', async () => {
    const check = await lengthOnly(15).evaluate('smith-alice-1990-07', alice);
    expect(messageOf(check)).toBe(
      'This password is too close to your email address and your name. Choose one that does not rely on them.',
    );
    const byName = await lengthOnly(15).evaluate('Marley_Bob_1945!jam', { name: 'Bob Marley' });
    expect(reasonOf(byName)).toBe('personal_info');
    expect(messageOf(byName)).toMatch(/too close to your name\./);
  });

  it('finds a multi-word service name written without its spaces', async () => {
    const acme = policy({ minScore: 0, serviceName: 'Acme Cloud' });
    const check = await acme.evaluate('AcmeCloud-2024-01');
    expect(reasonOf(check)).toBe('personal_info');
    expect(messageOf(check)).toMatch(/too close to the name of this service/);
    // Its single words are too generic to cut out ("cloud" is no giveaway on its own).
    expect(await acme.evaluate('cloud-vortex-maple')).toEqual({ ok: true });
  });

  it('compares after NFKC and case-insensitively', async () => {
    const check = await lengthOnly(15).evaluate(fullWidth('ALICESMITH123456'), {
      email: 'ALICE.SMITH@example.com',
    });
    expect(reasonOf(check)).toBe('personal_info');
  });

  it('refuses when less than half the password is left, even above the minimum length', async () => {
    // Leaves "kq7vtz9w": 8 characters, enough for minLength 8 but under half of 31.
    const check = await lengthOnly(8).evaluate('alice.smith@example.comKq7vTz9w', alice);
    expect(reasonOf(check)).toBe('personal_info');
  });

  it('accepts a password with enough of its own once those are removed', async () => {
    expect(await lengthOnly(15).evaluate('alice-vortex-maple-quartz-ember', alice)).toEqual({
      ok: true,
    });
    expect(await lengthOnly(15).evaluate('latchkey-vortex-maple-quartz-ember')).toEqual({
      ok: true,
    });
  });

  it('ignores pieces shorter than 3 characters, and symbols alone never count as personal', async () => {
    expect(
      await lengthOnly(15).evaluate('al-vortex-maple-quartz', { email: 'al@example.com' }),
    ).toEqual({
      ok: true,
    });
    expect(await lengthOnly(15).evaluate('!!!!!!!!!!!!!!!!!!!!-vortex', alice)).toEqual({
      ok: true,
    });
  });
});

describe('too guessable (zxcvbn-ts)', () => {
  const explains = /^This password is too easy to guess: [a-z][^.]+\. [A-Z].+\.$/;

  it('refuses a repeated character and says why', async () => {
    const check = await policy({ minScore: 3 }).evaluate('aaaaaaaaaaaaaaaa');
    expect(check).toEqual({
      ok: false,
      reason: 'too_guessable',
      message:
        'This password is too easy to guess: it repeats the same character. Avoid repeated words and characters.',
    });
  });

  it('refuses a digit run and says why, in words rather than zxcvbn keys', async () => {
    const check = await policy({ minScore: 3 }).evaluate('1234567890123456');
    expect(reasonOf(check)).toBe('too_guessable');
    expect(messageOf(check)).toMatch(explains);
    expect(messageOf(check)).not.toMatch(/similarToCommon|anotherWord|zxcvbn|score/);
  });

  it.each([
    ['iloveyouiloveyou', /repeats the same group of characters/],
    ['qwertyuiopasdfgh', /commonly used password/],
    ['password'.repeat(32), /repeats the same group of characters/],
  ])('refuses "%s" with a reason', async (password, reason) => {
    const check = await policy({ minScore: 3 }).evaluate(password);
    expect(reasonOf(check)).toBe('too_guessable');
    expect(messageOf(check)).toMatch(explains);
    expect(messageOf(check)).toMatch(reason);
  });

  it('refuses a long repetition whatever its length and tail', async () => {
    // Past 64 code points zxcvbn judges the beginning; the tail cannot rescue a weak one.
    expect(reasonOf(await policy().evaluate(`${'monkey'.repeat(40)}x`))).toBe('too_guessable');
    expect(reasonOf(await policy().evaluate(`${'p@ssw0rd'.repeat(31)}12345678`))).toBe(
      'too_guessable',
    );
  });

  it('judges a password longer than 64 code points by its first 64', async () => {
    // The design's trade-off for speed (zxcvbn on 256 characters takes up to ~0.5 s): a strong
    // beginning makes a strong password, a weak beginning is refused whatever follows it.
    expect(await policy().evaluate(`${varied(64)}${'a'.repeat(192)}`)).toEqual({ ok: true });
    expect(reasonOf(await policy().evaluate(`${'a'.repeat(64)}${varied(192)}`))).toBe(
      'too_guessable',
    );
  });

  it('accepts a long random-ish passphrase, even at the strictest score', async () => {
    expect(await policy({ minScore: 3 }).evaluate('correct-horse-battery-staple-vortex')).toEqual({
      ok: true,
    });
    expect(await policy({ minScore: 4 }).evaluate('correct-horse-battery-staple-vortex')).toEqual({
      ok: true,
    });
    expect(await policy({ minScore: 4 }).evaluate(varied(256), alice)).toEqual({ ok: true });
  });

  it('explains itself also when zxcvbn has no warning to give', async () => {
    // Scores 3, and zxcvbn gives no feedback above 2: a general reason stands in.
    const strict = policy({ minLength: 8, minScore: 4 });
    expect(reasonOf(await policy({ minLength: 8, minScore: 3 }).evaluate('Tr0ub4dor'))).toBe('ok');
    const check = await strict.evaluate('Tr0ub4dor');
    expect(reasonOf(check)).toBe('too_guessable');
    expect(messageOf(check)).toMatch(explains);
    // Scores 2 with a suggestion but no warning.
    expect(messageOf(await policy({ minLength: 8 }).evaluate('dragonmaster99'))).toMatch(explains);
  });

  it('is off with minScore 0', async () => {
    for (const password of ['aaaaaaaaaaaaaaaa', '1234567890123456', 'password'.repeat(32)]) {
      expect(await policy({ minScore: 0 }).evaluate(password)).toEqual({ ok: true });
    }
  });
});

describe('short name parts', () => {
  it('does not cut three-letter name words out of unrelated passwords', async () => {
    const policy = createPasswordPolicy({
      minLength: 15,
      minScore: 3,
      serviceName: 'Latchkey',
      hasher,
    });
    expect(
      await policy.evaluate('channel-sleeve-planning-42', {
        email: 'ann.lee@example.com',
        name: 'Ann Lee',
      }),
    ).toEqual({ ok: true });
  });
});
