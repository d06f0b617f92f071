import type { Redis } from 'ioredis';
import type { Config } from '../config/config.js';
import type { Clock } from '../core/clock.js';
import { AccountRateLimiter } from '../core/rate-limits.js';
import { SessionCache } from '../core/session-cache.js';
import { LoginThrottle } from '../core/throttle.js';
import type { Logger } from 'pino';
import {
  type CounterStore,
  MemoryCounterStore,
  PostgresCounterStore,
  ResilientCounterStore,
} from '../store/counters.js';
import type { DatabaseHandle } from '../store/database.js';
import { connectRedis, createRedis, RedisCounterStore } from '../store/redis.js';
import {
  parseRevocation,
  type RevocationSink,
  SESSION_CHANNEL,
  type SessionRevocation,
  withSessionEvents,
} from '../store/session-events.js';

/** Abuse protection and scale-out, wired from the configuration. */
export interface AbuseProtection {
  /** Rate-limit windows and throttles: Redis, else PostgreSQL, else memory. */
  counters: CounterStore;
  throttle: LoginThrottle;
  accountLimits: AccountRateLimiter;
  sessionCache: SessionCache;
  clock: Clock;
  /** Where session revocations travel between instances. */
  channel: 'redis' | 'postgres' | 'in-process' | 'none';
  /** Readiness checks to add to /readyz (Redis when configured). */
  readiness: Record<string, () => Promise<void>>;
  close(): Promise<void>;
}

/**
 * Builds the stores and the session-cache invalidation channel, and makes `database.db` the
 * handle through which this instance's revocations reach its own cache at once (every service
 * must be built from `database.db` after this call).
 */
export async function startAbuseProtection(
  config: Config,
  database: DatabaseHandle,
  o: { clock: Clock; log: Logger },
): Promise<AbuseProtection> {
  const { abuse } = config;
  const log = o.log;
  // On PostgreSQL without Redis a revocation travels by NOTIFY, delivered only at commit: the
  // logout answers before other instances hear of it, and a request sent right after it to
  // another instance would be answered from that instance's cache. So, unless the operator
  // accepts that window by setting SESSION_CACHE_TTL, every check reads the database there.
  const notifyOnly = !abuse.redisUrl && database.kind === 'postgres';
  const cacheTtlMs = notifyOnly && !abuse.sessionCacheTtlSet ? 0 : abuse.sessionCacheTtlMs;
  const sessionCache = new SessionCache({ ttlMs: cacheTtlMs });
  let redis: Redis | undefined;
  let subscriber: Redis | undefined;
  let counters: CounterStore;
  const closers: (() => Promise<void>)[] = [];
  const redisChannel = `${abuse.redisKeyPrefix}${SESSION_CHANNEL}`;

  if (abuse.redisUrl) {
    redis = createRedis(abuse.redisUrl, { keyPrefix: abuse.redisKeyPrefix });
    subscriber = createRedis(abuse.redisUrl, { keyPrefix: abuse.redisKeyPrefix });
    // Errors are reported by the stores and the cache (once per outage); ioredis must not
    // throw them as unhandled 'error' events.
    let redisErrorLogged = false;
    redis.on('error', (error) => {
      if (!redisErrorLogged) log.error({ err: error }, 'Redis connection error');
      redisErrorLogged = true;
    });
    redis.on('ready', () => {
      if (redisErrorLogged) log.info('Redis connection restored');
      redisErrorLogged = false;
    });
    const client = redis;
    counters = new ResilientCounterStore(new RedisCounterStore(redis), new MemoryCounterStore(), {
      graceMs: abuse.redisOutageGraceMs,
      now: () => o.clock().getTime(),
      log,
      probe: () => client.ping(),
    });
    const sub = subscriber;
    sub.on('error', () => {});
    sub.on('message', (channel: string, message: string) => {
      if (channel !== redisChannel) return;
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
      sub.subscribe(redisChannel).then(
        () => sessionCache.setConnected(true),
        (error: unknown) => log.error({ err: error }, 'Redis subscribe failed'),
      );
    });
    // A Redis that stops answering without closing the connection: a missed heartbeat counts
    // as a disconnect (the cache is bypassed) and forces a reconnect.
    const heartbeat = setInterval(() => {
      if (sub.status !== 'ready') return;
      sub.ping().catch(() => {
        down();
        sub.disconnect(true);
      });
    }, 1000);
    heartbeat.unref();
    const [up] = await Promise.all([connectRedis(redis), connectRedis(sub)]);
    if (!up) {
      log.error(
        'Redis is unreachable at start: limits fall back to this instance and the session cache is bypassed until it answers',
      );
    }
    closers.push(async () => {
      clearInterval(heartbeat);
      sub.disconnect();
      redis?.disconnect();
    });
  } else if (database.kind === 'postgres') {
    counters = new PostgresCounterStore(database.db);
  } else {
    counters = new MemoryCounterStore();
  }
  closers.push(() => counters.close());

  const publisher = redis;
  const sink: RevocationSink = {
    revoked(event: SessionRevocation) {
      sessionCache.revoked(event);
      publisher?.publish(redisChannel, JSON.stringify(event)).catch((error: unknown) => {
        log.error({ err: error }, 'could not publish a session revocation to Redis');
      });
    },
  };
  database.db = withSessionEvents(database.db, sink);

  let channel: AbuseProtection['channel'] = 'none';
  if (subscriber) {
    channel = 'redis';
  } else if (database.listen) {
    channel = database.kind === 'postgres' ? 'postgres' : 'in-process';
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
    closers.push(() => {
      closing = true;
      return listener.close();
    });
  }

  if (notifyOnly && cacheTtlMs > 0) {
    log.warn(
      'SESSION_CACHE_TTL is set on PostgreSQL without Redis: another instance may accept a signed-out session for the few milliseconds its LISTEN connection takes to hear of it. Unset it to close that window.',
    );
  }

  if (!config.abuse.rateLimitsEnabled) {
    log.warn(
      'RATE_LIMITS=off: per-IP and per-account request limits are off (the throttle on failed passwords stays on). Use this only for load tests.',
    );
  }

  const readiness: Record<string, () => Promise<void>> = {};
  if (redis) {
    const client = redis;
    readiness.redis = async () => {
      await client.ping();
    };
  }

  return {
    counters,
    throttle: new LoginThrottle({ store: counters, policy: abuse.throttle, clock: o.clock }),
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
    async close() {
      for (const close of closers.reverse()) await close().catch(() => {});
    },
  };
}
