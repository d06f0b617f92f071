import { Redis } from 'ioredis';
import type { ThrottleDecision, ThrottlePolicy, WindowHit } from './counter-rules.js';
import type { CounterStore } from './counters.js';

/**
 * ioredis, set up so that an unreachable Redis never hangs or crashes a request: no offline
 * queue (a command while disconnected fails at once), one retry per command, a command
 * timeout for a Redis that accepts but does not answer, and reconnection with a capped backoff
 * in the background. Auto-pipelining batches the commands of concurrent requests.
 */
export function createRedis(
  url: string,
  options: { keyPrefix: string; commandTimeoutMs?: number; connectTimeoutMs?: number },
): Redis {
  return new Redis(url, {
    keyPrefix: options.keyPrefix,
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: options.connectTimeoutMs ?? 2000,
    commandTimeout: options.commandTimeoutMs ?? 1000,
    autoResubscribe: false,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
    lazyConnect: true,
  });
}

/** Connects, waiting at most `timeoutMs`; false when Redis is not there (yet). */
export async function connectRedis(redis: Redis, timeoutMs = 2000): Promise<boolean> {
  if (redis.status === 'ready') return true;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.status === 'wait' ? redis.connect() : waitReady(redis),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('Redis connect timeout')), timeoutMs);
      }),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

function waitReady(redis: Redis): Promise<void> {
  return new Promise((resolve) => redis.once('ready', () => resolve()));
}

// Fixed window: INCR, and the expiry set on the window's first hit.
const HIT = `
local c = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if c == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {c, ttl}`;

// core/throttle.ts decideAttempt, in Lua (the shared store tests hold both to the same cases).
const ATTEMPT = `
local state = redis.call('HMGET', KEYS[1], 'f', 'l')
local f = tonumber(state[1] or '0') or 0
local last = tonumber(state[2] or '0') or 0
local now = tonumber(ARGV[1])
local delayFrom = tonumber(ARGV[2])
local base = tonumber(ARGV[3])
local maxDelay = tonumber(ARGV[4])
local lockAfter = tonumber(ARGV[5])
if f >= lockAfter then return {0, f, maxDelay, 1} end
local delay = 0
if f >= delayFrom then delay = math.min(base * 2 ^ math.min(f - delayFrom, 40), maxDelay) end
if now < last + delay then return {0, f, last + delay - now, 0} end
redis.call('HSET', KEYS[1], 'f', f + 1, 'l', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {1, f + 1, 0, 0}`;

type Scripted = Redis & {
  latchkeyHit(key: string, windowMs: number): Promise<[number, number]>;
  latchkeyAttempt(key: string, ...args: number[]): Promise<[number, number, number, number]>;
};

export class RedisCounterStore implements CounterStore {
  readonly kind = 'redis' as const;
  private readonly redis: Scripted;

  constructor(redis: Redis) {
    redis.defineCommand('latchkeyHit', { numberOfKeys: 1, lua: HIT });
    redis.defineCommand('latchkeyAttempt', { numberOfKeys: 1, lua: ATTEMPT });
    this.redis = redis as Scripted;
  }

  async hit(key: string, windowMs: number, nowMs: number): Promise<WindowHit> {
    const [count, ttl] = await this.redis.latchkeyHit(key, windowMs);
    return { count, resetAtMs: nowMs + ttl };
  }

  async attempt(
    key: string,
    p: ThrottlePolicy,
    nowMs: number,
    ttlMs: number,
  ): Promise<ThrottleDecision> {
    const [allowed, failures, retryAfterMs, locked] = await this.redis.latchkeyAttempt(
      key,
      nowMs,
      p.delayFrom,
      p.baseDelayMs,
      p.maxDelayMs,
      p.lockAfter,
      ttlMs,
    );
    return allowed === 1
      ? { allowed: true, failures }
      : { allowed: false, failures, retryAfterMs, locked: locked === 1 };
  }

  async clear(key: string): Promise<void> {
    await this.redis.del(key);
  }

  async close(): Promise<void> {
    // The connection is owned (and closed) by whoever created it.
  }
}
