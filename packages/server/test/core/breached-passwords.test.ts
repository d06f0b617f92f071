import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBreachCheck } from '../../src/core/breached-passwords.js';
import { createPasswordPolicy } from '../../src/core/password-policy.js';
import { OWASP_MINIMUM, PasswordHasher } from '../../src/core/passwords.js';
import { startPwnedPasswords } from '../support/pwned.js';

const BREACHED = 'lantern orchard quietly marble fjord';
const CLEAN = 'pebble saxophone winter ladder cobalt';

describe('the breached-password lookup (k-anonymity range API)', () => {
  let pwned: Awaited<ReturnType<typeof startPwnedPasswords>>;
  const failures: string[] = [];
  let check: ReturnType<typeof createBreachCheck>;
  beforeAll(async () => {
    pwned = await startPwnedPasswords({ [BREACHED]: 42 });
    check = createBreachCheck({
      url: pwned.url,
      timeoutMs: 300,
      onUnavailable: (reason) => failures.push(reason),
    });
  });
  const hasher = new PasswordHasher(OWASP_MINIMUM, { concurrency: 1, queueMax: 10 });
  afterAll(() => Promise.all([pwned.close(), hasher.close()]));

  it('finds a breached password and its count; a clean one counts 0', async () => {
    expect(await check(BREACHED)).toBe(42);
    expect(await check(CLEAN)).toBe(0);
  });

  it('sends only the first 5 hex digits of the SHA-1, and asks for padding', async () => {
    pwned.requests.length = 0;
    await check(BREACHED);
    const sha1 = createHash('sha1').update(BREACHED).digest('hex').toUpperCase();
    const [request] = pwned.requests;
    expect(request?.url).toBe(`/range/${sha1.slice(0, 5)}`);
    expect(request?.headers['add-padding']).toBe('true');
    expect(JSON.stringify(request?.headers)).not.toContain(sha1.slice(5));
  });

  it('answers null, and says why, when the service fails or is too slow', async () => {
    failures.length = 0;
    pwned.mode = 'fail';
    expect(await check(BREACHED)).toBeNull();
    pwned.mode = 'hang';
    const started = performance.now();
    expect(await check(BREACHED)).toBeNull();
    expect(performance.now() - started).toBeLessThan(3000);
    pwned.mode = 'answer';
    expect(failures).toHaveLength(2);
    expect(failures[0]).toMatch(/503/);
    const unreachable = createBreachCheck({
      url: 'http://127.0.0.1:9/range/',
      timeoutMs: 300,
      onUnavailable: (reason) => failures.push(reason),
    });
    expect(await unreachable(BREACHED)).toBeNull();
    expect(failures).toHaveLength(3);
  });

  it('stops reading an answer far larger than a range answer', async () => {
    failures.length = 0;
    pwned.mode = 'flood';
    try {
      const slow = createBreachCheck({
        url: pwned.url,
        timeoutMs: 10_000,
        onUnavailable: (reason) => failures.push(reason),
      });
      expect(await slow(BREACHED)).toBeNull();
      expect(failures).toEqual(['the answer is too large to be a range answer']);
    } finally {
      pwned.mode = 'answer';
    }
  });

  it('makes the policy refuse a breached password, after its own rules', async () => {
    const looked: string[] = [];
    const policy = createPasswordPolicy({
      minLength: 15,
      minScore: 3,
      serviceName: 'Latchkey',
      hasher,
      breached: async (password) => {
        looked.push(password);
        return password === BREACHED ? 7 : 0;
      },
    });
    expect(await policy.evaluate(BREACHED)).toMatchObject({ ok: false, reason: 'breached' });
    expect(await policy.evaluate(CLEAN)).toEqual({ ok: true });
    // A password of the wrong length is never sent anywhere.
    expect(await policy.evaluate('short')).toMatchObject({ reason: 'too_short' });
    expect(looked).toEqual([BREACHED, CLEAN]);
    // Without an answer the lookup does not refuse.
    const offline = createPasswordPolicy({
      minLength: 15,
      minScore: 3,
      serviceName: 'Latchkey',
      hasher,
      breached: async () => null,
    });
    expect(await offline.evaluate(BREACHED)).toEqual({ ok: true });
  });
});
