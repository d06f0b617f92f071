import { describe, expect, it, vi } from 'vitest';
import { verdict } from '../../src/core/rate-limits.js';
import { SessionCache } from '../../src/core/session-cache.js';
import { accountKey, LoginThrottle } from '../../src/core/throttle.js';
import {
  applyHit,
  decideAttempt,
  type ThrottlePolicy,
  throttleDelayMs,
} from '../../src/store/counter-rules.js';
import { MemoryCounterStore, ResilientCounterStore } from '../../src/store/counters.js';
import type { SessionWithUser } from '../../src/store/sessions.js';

const policy: ThrottlePolicy = {
  delayFrom: 5,
  baseDelayMs: 1000,
  maxDelayMs: 900_000,
  lockAfter: 100,
};

describe('throttle arithmetic', () => {
  it('delays from the 5th consecutive failure: 1 s doubling to a 15 min cap', () => {
    expect([0, 1, 4].map((f) => throttleDelayMs(f, policy))).toEqual([0, 0, 0]);
    expect(throttleDelayMs(5, policy)).toBe(1000);
    expect(throttleDelayMs(6, policy)).toBe(2000);
    expect(throttleDelayMs(14, policy)).toBe(512_000);
    expect(throttleDelayMs(15, policy)).toBe(900_000);
    expect(throttleDelayMs(99, policy)).toBe(900_000);
    expect(throttleDelayMs(10_000, policy)).toBe(900_000);
  });

  it('counts an allowed attempt, refuses until the delay has passed, and locks at 100', () => {
    expect(decideAttempt(undefined, 0, policy)).toEqual({ allowed: true, failures: 1 });
    expect(decideAttempt({ failures: 4, lastFailureMs: 1000 }, 1000, policy)).toEqual({
      allowed: true,
      failures: 5,
    });
    expect(decideAttempt({ failures: 5, lastFailureMs: 1000 }, 1500, policy)).toEqual({
      allowed: false,
      failures: 5,
      retryAfterMs: 500,
      locked: false,
    });
    expect(decideAttempt({ failures: 5, lastFailureMs: 1000 }, 2000, policy).allowed).toBe(true);
    expect(decideAttempt({ failures: 100, lastFailureMs: 0 }, 1e12, policy)).toEqual({
      allowed: false,
      failures: 100,
      retryAfterMs: 900_000,
      locked: true,
    });
  });

  it('keys accounts by the normalised email, without the address itself', () => {
    expect(accountKey(' Ada@Example.COM ')).toBe(accountKey('ada@example.com'));
    expect(accountKey('ada@example.com')).not.toContain('ada');
    expect(accountKey('ada@example.com')).not.toBe(accountKey('bob@example.com'));
  });
});

describe('fixed-window arithmetic', () => {
  it('opens a window on the first hit, counts within it, and starts over after it', () => {
    const first = applyHit(undefined, 60_000, 1000);
    expect(first).toEqual({ count: 1, resetAtMs: 61_000 });
    const second = applyHit(first, 60_000, 30_000);
    expect(second).toEqual({ count: 2, resetAtMs: 61_000 });
    expect(applyHit(second, 60_000, 61_000)).toEqual({ count: 1, resetAtMs: 121_000 });
  });

  it('allows up to max and gives the time left as the retry delay (at least a second)', () => {
    const limit = { max: 2, windowSeconds: 60 };
    expect(verdict({ count: 2, resetAtMs: 61_000 }, limit, 1000)).toEqual({ allowed: true });
    expect(verdict({ count: 3, resetAtMs: 61_000 }, limit, 1000)).toEqual({
      allowed: false,
      retryAfterMs: 60_000,
    });
    expect(verdict({ count: 3, resetAtMs: 61_000 }, limit, 60_900)).toMatchObject({
      retryAfterMs: 1000,
    });
  });
});

describe('LoginThrottle over the memory store, with an injected clock', () => {
  it('throttles after 5 failures, lets one attempt through per delay, and a success clears it', async () => {
    let now = 1_000_000;
    const store = new MemoryCounterStore();
    const throttle = new LoginThrottle({ store, policy, clock: () => new Date(now) });
    for (let i = 1; i <= 5; i++) expect((await throttle.begin('a@example.com')).failures).toBe(i);
    await expect(throttle.begin('A@example.com')).rejects.toMatchObject({
      code: 'rate_limited',
      status: 429,
      extra: { retryAfterSeconds: 1 },
    });
    now += 1000;
    const sixth = await throttle.begin('a@example.com');
    expect(sixth.failures).toBe(6);
    expect(throttle.failureOutcome({ key: '', failures: 5, scope: 'account' })).toBe('throttled');
    expect(throttle.failureOutcome({ key: '', failures: 100, scope: 'account' })).toBe('locked');
    expect(throttle.failureOutcome({ key: '', failures: 6, scope: 'account' })).toBeNull();
    await expect(throttle.begin('a@example.com')).rejects.toMatchObject({
      extra: { retryAfterSeconds: 2 },
    });
    now += 2000;
    await throttle.succeeded(await throttle.begin('a@example.com'));
    expect((await throttle.begin('a@example.com')).failures).toBe(1);
    // Another account is untouched.
    expect((await throttle.begin('b@example.com')).failures).toBe(1);
    await store.close();
  });

  it('locks after 100 consecutive failures until clear() (a password reset)', async () => {
    let now = 0;
    const store = new MemoryCounterStore();
    const throttle = new LoginThrottle({ store, policy, clock: () => new Date(now) });
    for (let i = 0; i < 100; i++) {
      await throttle.begin('locked@example.com');
      now += 900_000;
    }
    now += 86_400_000;
    await expect(throttle.begin('locked@example.com')).rejects.toMatchObject({
      code: 'rate_limited',
      extra: { retryAfterSeconds: 900 },
    });
    await throttle.clear('Locked@Example.com');
    expect((await throttle.begin('locked@example.com')).failures).toBe(1);
    await store.close();
  });

  it('counts a trusted device in a record of its own; at its own lock it joins the account', async () => {
    let now = 0;
    const store = new MemoryCounterStore();
    const throttle = new LoginThrottle({ store, policy, clock: () => new Date(now) });
    // Strangers lock the account...
    for (let i = 0; i < 100; i++) {
      await throttle.begin('owner@example.com');
      now += 900_000;
    }
    await expect(throttle.begin('owner@example.com')).rejects.toMatchObject({ status: 429 });
    // ...the owner's device is let through, counted on its own, and its success clears only it.
    const ticket = await throttle.begin('owner@example.com', 'device-1');
    expect(ticket).toMatchObject({ key: 'throttle:device:device-1', failures: 1, scope: 'device' });
    await throttle.succeeded(ticket);
    await expect(throttle.begin('owner@example.com')).rejects.toMatchObject({ status: 429 });
    // A device's own failures delay that device, and nobody else.
    for (let i = 1; i <= 5; i++) await throttle.begin('other@example.com', 'device-2');
    await expect(throttle.begin('other@example.com', 'device-2')).rejects.toMatchObject({
      extra: { retryAfterSeconds: 1 },
    });
    expect((await throttle.begin('other@example.com', 'device-3')).failures).toBe(1);
    expect((await throttle.begin('other@example.com')).scope).toBe('account');
    // At its lock the device is counted with the untrusted clients of the account.
    for (let i = 5; i < 100; i++) {
      now += 900_000;
      await throttle.begin('other@example.com', 'device-2');
    }
    now += 900_000;
    const fallback = await throttle.begin('other@example.com', 'device-2');
    expect(fallback).toMatchObject({ scope: 'account', failures: 2 });
    await store.close();
  });

  it('counts parallel attempts one by one (no burst slips past)', async () => {
    const store = new MemoryCounterStore();
    const throttle = new LoginThrottle({ store, policy, clock: () => new Date(0) });
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => throttle.begin('burst@example.com')),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    await store.close();
  });
});

describe('ResilientCounterStore (the Redis-outage policy)', () => {
  class Broken extends MemoryCounterStore {
    down = false;
    calls = 0;
    override hit(...args: Parameters<MemoryCounterStore['hit']>) {
      this.calls++;
      return this.down ? Promise.reject(new Error('ECONNREFUSED')) : super.hit(...args);
    }
  }
  const silent = { error: () => {}, info: () => {} };

  it('falls back to local counters, then refuses fail-closed operations after the grace, and recovers', async () => {
    let now = 0;
    const primary = new Broken();
    const fallback = new MemoryCounterStore();
    const store = new ResilientCounterStore(primary, fallback, {
      graceMs: 30_000,
      now: () => now,
      log: silent,
      probe: async () => {
        if (primary.down) throw new Error('ECONNREFUSED');
      },
      probeIntervalMs: 10,
    });
    expect((await store.hit('k', 60_000, now)).count).toBe(1);
    primary.down = true;
    expect((await store.hit('k', 60_000, now, { failClosed: true })).count).toBe(1); // fallback
    expect(store.degraded).toBe(true);
    // Down: the shared store is not tried again (a hung one would cost each call its timeout).
    const calls = primary.calls;
    expect((await store.hit('k', 60_000, now, { failClosed: true })).count).toBe(2); // fallback
    expect(primary.calls).toBe(calls);
    now += 30_001;
    await expect(store.hit('k', 60_000, now, { failClosed: true })).rejects.toMatchObject({
      code: 'rate_limiter_unavailable',
      status: 503,
    });
    // Limits that do not fail closed keep the local fallback.
    expect((await store.hit('other', 60_000, now)).count).toBe(1);
    primary.down = false;
    // The probe sees it back; then the shared counters, which kept the window from before the
    // outage, answer again.
    await vi.waitFor(() => expect(store.degraded).toBe(false), { timeout: 2000, interval: 10 });
    expect((await store.hit('k', 60_000, now, { failClosed: true })).count).toBe(2);
    expect(store.stats).toMatchObject({ outages: 1, refusals: 1, fallbacks: 3 });
    await store.close();
  });
});

describe('SessionCache', () => {
  const entry = (sessionId: string, userId: string) =>
    ({ session: { id: sessionId }, user: { id: userId } }) as unknown as SessionWithUser;

  it('answers for ttl at most, only while connected, and drops revoked sessions and users', () => {
    let now = 0;
    const cache = new SessionCache({ ttlMs: 5000, now: () => now, tombstoneMs: 30_000 });
    cache.set('h1', entry('s1', 'u1'), cache.generation);
    expect(cache.get('h1')).toBeUndefined(); // not connected yet: bypassed
    cache.setConnected(true);
    cache.set('h1', entry('s1', 'u1'), cache.generation);
    cache.set('h2', entry('s2', 'u1'), cache.generation);
    cache.set('h3', entry('s3', 'u2'), cache.generation);
    expect(cache.get('h1')?.session.id).toBe('s1');
    now += 5000;
    expect(cache.get('h1')).toBeUndefined(); // expired
    now = 0;
    cache.set('h1', entry('s1', 'u1'), cache.generation);
    cache.revoked({ sessionIds: ['s1'] });
    expect(cache.get('h1')).toBeUndefined();
    expect(cache.get('h2')?.session.id).toBe('s2');
    // A read that raced the revocation is not cached.
    cache.set('h1', entry('s1', 'u1'), cache.generation);
    expect(cache.get('h1')).toBeUndefined();
    cache.revoked({ userId: 'u1' });
    expect(cache.get('h2')).toBeUndefined();
    expect(cache.get('h3')?.session.id).toBe('s3');
    now += 30_001; // the tombstone is over: cacheable again
    cache.set('h2', entry('s2', 'u1'), cache.generation);
    expect(cache.get('h2')?.session.id).toBe('s2');
  });

  it('holds only the sessions seen within the ttl, and at most maxEntries', () => {
    let now = 0;
    const cache = new SessionCache({ ttlMs: 5000, maxEntries: 3, now: () => now });
    cache.setConnected(true);
    for (const n of [1, 2, 3, 4]) cache.set(`h${n}`, entry(`s${n}`, 'u1'), cache.generation);
    expect(cache.size).toBe(3);
    expect(cache.get('h1')).toBeUndefined(); // the oldest made room
    now = 3000;
    cache.set('h2', entry('s2', 'u1'), cache.generation); // read again: now the youngest
    now = 6000;
    cache.set('h5', entry('s5', 'u1'), cache.generation);
    expect(cache.size).toBe(2); // h3 and h4 expired, nobody asked for them again
    expect(cache.get('h2')?.session.id).toBe('s2');
    expect(cache.get('h5')?.session.id).toBe('s5');
  });

  it('empties itself on disconnect and ignores reads that began before it', () => {
    const cache = new SessionCache({ ttlMs: 5000, now: () => 0 });
    cache.setConnected(true);
    cache.set('h1', entry('s1', 'u1'), cache.generation);
    const before = cache.generation;
    cache.setConnected(false);
    expect(cache.size).toBe(0);
    expect(cache.get('h1')).toBeUndefined();
    cache.setConnected(true);
    cache.set('h1', entry('s1', 'u1'), before);
    expect(cache.get('h1')).toBeUndefined();
    expect(cache.stats.disconnects).toBe(1);
  });
});
