import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** Redis suites run when TEST_REDIS_URL is set (CI sets it). */
export const redisUrl = process.env.TEST_REDIS_URL;

/** A key prefix of its own for one test, so parallel files never share keys or channels. */
export function uniquePrefix(): string {
  return `latchkey-test:${randomBytes(6).toString('hex')}:`;
}

/** Deletes every key under `prefix`. */
export async function cleanupPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Multi-instance suites run on PostgreSQL alone, and with Redis too when TEST_REDIS_URL is set. */
export const redisVariants = ['PostgreSQL only', ...(redisUrl ? ['PostgreSQL + Redis'] : [])];

/**
 * The Redis settings of one variant of `redisVariants`: REDIS_URL with a key prefix of its own
 * (none for the PostgreSQL-only variant), and a cleanup that deletes its keys.
 */
export function redisFor(variant: string) {
  const url = variant.includes('Redis') ? redisUrl : undefined;
  const prefix = uniquePrefix();
  return {
    on: url !== undefined,
    env: url ? { REDIS_URL: url, REDIS_KEY_PREFIX: prefix } : {},
    cleanup: async () => {
      if (url) await cleanupPrefix(url, prefix);
    },
  };
}
