import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decideAttempt, type ThrottlePolicy } from '../../src/store/counter-rules.js';
import {
  type CounterStore,
  MemoryCounterStore,
  PostgresCounterStore,
} from '../../src/store/counters.js';
import type { DatabaseHandle } from '../../src/store/database.js';
import { connectRedis, createRedis, RedisCounterStore } from '../../src/store/redis.js';
import { backends, createTestDatabase } from '../support/db.js';
import { cleanupPrefix, redisUrl, uniquePrefix } from '../support/redis.js';

const policy: ThrottlePolicy = { delayFrom: 3, baseDelayMs: 1000, maxDelayMs: 4000, lockAfter: 8 };

type Kind = 'memory' | `postgres store on ${string}` | 'redis';
const kinds: Kind[] = [
  'memory',
  ...backends.map((b) => `postgres store on ${b}` as const),
  ...(redisUrl ? (['redis'] as const) : []),
];

/** Every store gives the same answers: the arithmetic is core's, applied atomically. */
describe.each(kinds)('the %s counter store', (kind) => {
  let store: CounterStore;
  let database: DatabaseHandle | undefined;
  let cleanup = async () => {};
  beforeAll(async () => {
    if (kind === 'memory') {
      store = new MemoryCounterStore();
    } else if (kind === 'redis' && redisUrl) {
      const prefix = uniquePrefix();
      const redis = createRedis(redisUrl, { keyPrefix: prefix });
      expect(await connectRedis(redis)).toBe(true);
      store = new RedisCounterStore(redis);
      const url = redisUrl;
      cleanup = async () => {
        redis.disconnect();
        await cleanupPrefix(url, prefix);
      };
    } else {
      database = await createTestDatabase(kind.endsWith('postgres') ? 'postgres' : 'pglite');
      store = new PostgresCounterStore(database.db);
    }
  });
  afterAll(async () => {
    await store.close();
    await cleanup();
    await database?.close();
  });

  it('counts hits in a fixed window and reports when it ends', async () => {
    const now = Date.now();
    const hits = [];
    for (let i = 0; i < 3; i++) hits.push(await store.hit('w:a', 60_000, now + i));
    expect(hits.map((h) => h.count)).toEqual([1, 2, 3]);
    for (const hit of hits) {
      expect(hit.resetAtMs).toBeGreaterThan(now + 58_000);
      expect(hit.resetAtMs).toBeLessThanOrEqual(now + 60_100);
    }
    expect((await store.hit('w:b', 60_000, now)).count).toBe(1);
  });

  it('starts a new window once the old one is over', async () => {
    const now = Date.now();
    await store.hit('w:short', 150, now);
    expect((await store.hit('w:short', 150, now)).count).toBe(2);
    await new Promise((r) => setTimeout(r, 250));
    expect((await store.hit('w:short', 150, Date.now())).count).toBe(1);
  });

  it('counts concurrent hits exactly', async () => {
    const now = Date.now();
    const hits = await Promise.all(
      Array.from({ length: 25 }, () => store.hit('w:race', 60_000, now)),
    );
    expect(hits.map((h) => h.count).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 25 }, (_, i) => i + 1),
    );
  });

  it('decides throttle attempts exactly as core decideAttempt does', async () => {
    let now = 1_700_000_000_000;
    let state: { failures: number; lastFailureMs: number } | undefined;
    const ttl = 86_400_000;
    for (let step = 0; step < 40; step++) {
      const expected = decideAttempt(state, now, policy);
      const actual = await store.attempt('t:a', policy, now, ttl);
      expect(actual).toEqual(expected);
      if (expected.allowed) state = { failures: expected.failures, lastFailureMs: now };
      now += step % 3 === 0 ? 700 : 1500;
    }
    expect(state?.failures).toBe(policy.lockAfter);
    await store.clear('t:a');
    expect(await store.attempt('t:a', policy, now, ttl)).toEqual({ allowed: true, failures: 1 });
  });

  it('lets exactly delayFrom concurrent attempts through', async () => {
    const now = Date.now();
    const results = await Promise.all(
      Array.from({ length: 12 }, () => store.attempt('t:burst', policy, now, 60_000)),
    );
    expect(results.filter((r) => r.allowed)).toHaveLength(policy.delayFrom);
  });
});
