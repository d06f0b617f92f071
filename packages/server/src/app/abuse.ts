import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { AbuseConfig } from '../config/abuse.js';
import type { Config } from '../config/config.js';
import type { Clock } from '../core/clock.js';
import { AccountRateLimiter } from '../core/rate-limits.js';
import { SessionCache } from '../core/session-cache.js';
import { LoginThrottle } from '../core/throttle.js';
import {
  type CounterStore,
  MemoryCounterStore,
  PostgresCounterStore,
  ResilientCounterStore,
} from '../store/counters.js';
import type { DatabaseHandle } from '../store/database.js';
import { connectRedis, createRedis, RedisCounterStore } from '../store/redis.js';
import type { Database } from '../store/schema.js';
import {
  parseRevocation,
  type RevocationSink,
  SESSION_CHANNEL,
  withSessionEvents,
} from '../store/session-events.js';

/** Abuse protection and scale-out, wired from the configuration. */
export interface AbuseProtection {
  /** Rate-limit windows and throttles: Redis, else PostgreSQL, else memory. */
  counters: CounterStore;
  throttle: LoginThrottle;
  /** The per-account throttle on wrong second-step codes (keyed by user id). */
  mfaThrottle: LoginThrottle;
  accountLimits: AccountRateLimiter;
  sessionCache: SessionCache;
  clock: Clock;
  /** Where session revocations travel between instances. */
  channel: 'redis' | 'postgres' | 'in-process' | 'none';
  /** Readiness checks to add to /readyz (Redis when configured). */
  readiness: Record<string, () => Promise<void>>;
  /**
   * The database handle every service must use: this instance's revocations reach its own
   * session cache (and the other instances, through Redis) when they commit through it.
   */
  db: Kysely<Database>;
  close(): Promise<void>;
}

type Closer = () => Promise<void>;

/** Closes in reverse order, each once, whatever the others do. */
async function closeAll(closers: Closer[]): Promise<void> {
  for (const close of closers.splice(0).reverse()) await close().catch(() => {});
}

/**
 * The session cache. On PostgreSQL without Redis a revocation travels by NOTIFY, delivered only
 * at commit: the logout answers before other instances hear of it, and a request sent right after
 * it to another instance would be answered from that instance's cache. So, unless the operator
 * accepts that window by setting SESSION_CACHE_TTL, every check reads the database there.
 */
function createSessionCache(abuse: AbuseConfig, kind: DatabaseHandle['kind'], log: Logger) {
  const notifyOnly = !abuse.redisUrl && kind === 'postgres';
  const ttlMs = notifyOnly && !abuse.sessionCacheTtlSet ? 0 : abuse.sessionCacheTtlMs;
  if (notifyOnly && ttlMs > 0) {
    log.warn(
      'SESSION_CACHE_TTL is set on PostgreSQL without Redis: another instance may accept a signed-out session for the few milliseconds its LISTEN connection takes to hear of it. Unset it to close that window.',
    );
  }
  return new SessionCache({ ttlMs });
}

interface RedisLink {
  /** Commands: counters, publishing revocations, readiness. */
  client: Redis;
  close: Closer;
}

/** The Redis command connection; its errors are logged once per outage, never thrown. */
function redisClient(abuse: AbuseConfig & { redisUrl: string }, log: Logger): Redis {
  const redis = createRedis(abuse.redisUrl, { keyPrefix: abuse.redisKeyPrefix });
  let errorLogged = false;
  redis.on('error', (error) => {
    if (!errorLogged) log.error({ err: error }, 'Redis connection error');
    errorLogged = true;
  });
  redis.on('ready', () => {
    if (errorLogged) log.info('Redis connection restored');
    errorLogged = false;
  });
  return redis;
}

/**
 * The subscriber that delivers other instances' revocations to the session cache. While it is
 * down the cache is bypassed; a missed heartbeat (a Redis that stops answering without closing
 * the connection) counts as down and forces a reconnect.
 */
function redisSubscriber(
  abuse: AbuseConfig & { redisUrl: string },
  channel: string,
  sessionCache: SessionCache,
  log: Logger,
): { sub: Redis; close: Closer } {
  const sub = createRedis(abuse.redisUrl, { keyPrefix: abuse.redisKeyPrefix });
  sub.on('error', () => {});
  sub.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    const event = parseRevocation(message);
    if (event) sessionCache.revoked(event);
  });
  const down = () => {
    if (sessionCache.active) {
      log.error('session invalidation channel (Redis) lost: the session cache is bypassed');
    }
    sessionCache.setConnected(false);
  };
  sub.on('close', down);
  sub.on('end', down);
  sub.on('ready', () => {
    sub.subscribe(channel).then(
      () => sessionCache.setConnected(true),
      (error: unknown) => log.error({ err: error }, 'Redis subscribe failed'),
    );
  });
  const heartbeat = setInterval(() => {
    if (sub.status !== 'ready') return;
    sub.ping().catch(() => {
      down();
      sub.disconnect(true);
    });
  }, 1000);
  heartbeat.unref();
  return {
    sub,
    close: async () => {
      clearInterval(heartbeat);
      sub.disconnect();
    },
  };
}

/** Both Redis connections, connected (or logged as unreachable: the start goes on). */
async function connectRedisLink(
  abuse: AbuseConfig & { redisUrl: string },
  channel: string,
  sessionCache: SessionCache,
  log: Logger,
): Promise<RedisLink> {
  const client = redisClient(abuse, log);
  const subscriber = redisSubscriber(abuse, channel, sessionCache, log);
  const close = async () => {
    await subscriber.close();
    client.disconnect();
  };
  try {
    const [up] = await Promise.all([connectRedis(client), connectRedis(subscriber.sub)]);
    if (!up) {
      log.error(
        'Redis is unreachable at start: limits fall back to this instance and the session cache is bypassed until it answers',
      );
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { client, close };
}

/** Redis (falling back to memory during an outage), else PostgreSQL, else memory. */
function createCounterStore(
  abuse: AbuseConfig,
  database: DatabaseHandle,
  redis: Redis | undefined,
  o: { clock: Clock; log: Logger },
): CounterStore {
  if (redis) {
    return new ResilientCounterStore(new RedisCounterStore(redis), new MemoryCounterStore(), {
      graceMs: abuse.redisOutageGraceMs,
      now: () => o.clock().getTime(),
      log: o.log,
      probe: () => redis.ping(),
    });
  }
  if (database.kind === 'postgres') return new PostgresCounterStore(database.db);
  return new MemoryCounterStore();
}

/** Where a revocation committed by this instance goes: its own cache, and Redis when there. */
function revocationSink(
  sessionCache: SessionCache,
  publisher: Redis | undefined,
  channel: string,
  log: Logger,
): RevocationSink {
  return {
    revoked(event) {
      sessionCache.revoked(event);
      publisher?.publish(channel, JSON.stringify(event)).catch((error: unknown) => {
        log.error({ err: error }, 'could not publish a session revocation to Redis');
      });
    },
  };
}

/** Other instances' revocations by LISTEN (PostgreSQL) or in-process (PGlite), without Redis. */
async function listenForRevocations(
  database: DatabaseHandle,
  sessionCache: SessionCache,
  log: Logger,
): Promise<{ channel: AbuseProtection['channel']; close?: Closer }> {
  if (!database.listen) return { channel: 'none' };
  let lostLogged = false;
  let closing = false; // our own close is no loss to report
  const listener = await database.listen(SESSION_CHANNEL, {
    onMessage(payload) {
      const event = parseRevocation(payload);
      if (event) sessionCache.revoked(event);
    },
    onState(connected) {
      if (!connected && !closing && sessionCache.active && !lostLogged) {
        log.error('session invalidation channel (LISTEN) lost: the session cache is bypassed');
        lostLogged = true;
      }
      if (connected) lostLogged = false;
      sessionCache.setConnected(connected);
    },
  });
  return {
    channel: database.kind === 'postgres' ? 'postgres' : 'in-process',
    close: () => {
      closing = true;
      return listener.close();
    },
  };
}

/**
 * Builds the counter stores, the session cache and its invalidation channel. The answer's `db`
 * is `database.db` wrapped so that this instance's revocations reach its cache at once; the
 * handle passed in is left as it is. A failure part-way closes what was opened.
 */
export async function startAbuseProtection(
  config: Config,
  database: DatabaseHandle,
  o: { clock: Clock; log: Logger },
): Promise<AbuseProtection> {
  const { abuse } = config;
  const { log } = o;
  const closers: Closer[] = [];
  try {
    const sessionCache = createSessionCache(abuse, database.kind, log);
    const redisChannel = `${abuse.redisKeyPrefix}${SESSION_CHANNEL}`;
    const redisUrl = abuse.redisUrl;
    const redis = redisUrl
      ? await connectRedisLink({ ...abuse, redisUrl }, redisChannel, sessionCache, log)
      : undefined;
    if (redis) closers.push(redis.close);
    const counters = createCounterStore(abuse, database, redis?.client, o);
    closers.push(() => counters.close());
    const db = withSessionEvents(
      database.db,
      revocationSink(sessionCache, redis?.client, redisChannel, log),
    );
    let channel: AbuseProtection['channel'] = 'redis';
    if (!redis) {
      const listening = await listenForRevocations(database, sessionCache, log);
      channel = listening.channel;
      if (listening.close) closers.push(listening.close);
    }
    if (!abuse.rateLimitsEnabled) {
      log.warn(
        'RATE_LIMITS=off: per-IP and per-account request limits are off (the throttle on failed passwords stays on). Use this only for load tests.',
      );
    }
    const readiness: Record<string, () => Promise<void>> = {};
    if (redis) {
      readiness.redis = async () => {
        await redis.client.ping();
      };
    }
    return {
      counters,
      throttle: new LoginThrottle({ store: counters, policy: abuse.throttle, clock: o.clock }),
      // Wrong second-step codes: the same growing delays, but never a lock, which anyone who
      // knows the password could otherwise set off for good.
      mfaThrottle: new LoginThrottle({
        store: counters,
        policy: { ...abuse.throttle, lockAfter: Number.MAX_SAFE_INTEGER },
        clock: o.clock,
        keyPrefix: 'mfa-throttle',
      }),
      accountLimits: new AccountRateLimiter({
        store: counters,
        limits: abuse.limits,
        clock: o.clock,
        enabled: abuse.rateLimitsEnabled,
      }),
      sessionCache,
      clock: o.clock,
      channel,
      readiness,
      db,
      close: () => closeAll(closers),
    };
  } catch (error) {
    await closeAll(closers);
    throw error;
  }
}
