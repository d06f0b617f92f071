import type { Kysely } from 'kysely';
import {
  applyHit,
  decideAttempt,
  type ThrottleDecision,
  type ThrottlePolicy,
  type ThrottleState,
  type ThrottleStore,
  type WindowHit,
  type WindowStore,
} from './counter-rules.js';
import type { Database } from './schema.js';

/** A fail-closed count refused while the shared store is down past its grace (answered 503). */
export class CounterStoreUnavailableError extends Error {
  readonly code = 'rate_limiter_unavailable';
  readonly status = 503;
  constructor() {
    super('The shared rate-limit store is unavailable');
    this.name = 'CounterStoreUnavailableError';
  }
}

/**
 * Where rate-limit windows and login throttles live: one interface, three stores.
 * - memory: one process (the embedded database, or tests);
 * - PostgreSQL (`abuse_counters`): several instances sharing a database without Redis;
 * - Redis (store/redis.ts): several instances with REDIS_URL.
 * Every operation is atomic in its store, so instances never race each other past a limit.
 */
export interface CounterStore extends WindowStore, ThrottleStore {
  readonly kind: 'memory' | 'postgres' | 'redis';
  close(): Promise<void>;
}

interface MemoryEntry {
  count: number;
  touchedMs: number;
  expiresMs: number;
}

export class MemoryCounterStore implements CounterStore {
  readonly kind = 'memory' as const;
  private readonly entries = new Map<string, MemoryEntry>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly maxEntries = 100_000) {
    this.sweeper = setInterval(() => this.sweep(Date.now()), 60_000);
    this.sweeper.unref();
  }

  async hit(key: string, windowMs: number, nowMs: number): Promise<WindowHit> {
    const entry = this.entries.get(key);
    const next = applyHit(
      entry && { count: entry.count, resetAtMs: entry.expiresMs },
      windowMs,
      nowMs,
    );
    this.set(key, { count: next.count, touchedMs: nowMs, expiresMs: next.resetAtMs });
    return next;
  }

  async attempt(
    key: string,
    policy: ThrottlePolicy,
    nowMs: number,
    ttlMs: number,
  ): Promise<ThrottleDecision> {
    const entry = this.entries.get(key);
    const state: ThrottleState | undefined =
      entry && entry.expiresMs > nowMs
        ? { failures: entry.count, lastFailureMs: entry.touchedMs }
        : undefined;
    const decision = decideAttempt(state, nowMs, policy);
    if (decision.allowed) {
      this.set(key, { count: decision.failures, touchedMs: nowMs, expiresMs: nowMs + ttlMs });
    }
    return decision;
  }

  async clear(key: string): Promise<void> {
    this.entries.delete(key);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.entries.clear();
  }

  private set(key: string, entry: MemoryEntry) {
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > this.maxEntries) {
      this.sweep(entry.touchedMs);
      // Still full of live entries: drop the least recently written.
      for (const oldest of this.entries.keys()) {
        if (this.entries.size <= this.maxEntries) break;
        this.entries.delete(oldest);
      }
    }
  }

  private sweep(nowMs: number) {
    for (const [key, entry] of this.entries) if (entry.expiresMs <= nowMs) this.entries.delete(key);
  }
}

/** Counters in the `abuse_counters` table, shared by every instance on the database. */
export class PostgresCounterStore implements CounterStore {
  readonly kind = 'postgres' as const;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly db: Kysely<Database>) {
    this.sweeper = setInterval(() => {
      void this.db
        .deleteFrom('abuse_counters')
        .where('expires_ms', '<', Date.now())
        .execute()
        .catch(() => {});
    }, 600_000);
    this.sweeper.unref();
  }

  async hit(key: string, windowMs: number, nowMs: number): Promise<WindowHit> {
    // One atomic upsert: a window that has ended starts again at 1.
    const row = await this.db
      .insertInto('abuse_counters')
      .values({ key, count: 1, touched_ms: nowMs, expires_ms: nowMs + windowMs })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet((eb) => {
          const ended = eb('abuse_counters.expires_ms', '<=', nowMs);
          return {
            count: eb
              .case()
              .when(ended)
              .then(1)
              .else(eb('abuse_counters.count', '+', 1))
              .end(),
            expires_ms: eb
              .case()
              .when(ended)
              .then(eb.ref('excluded.expires_ms'))
              .else(eb.ref('abuse_counters.expires_ms'))
              .end(),
            touched_ms: nowMs,
          };
        }),
      )
      .returning(['count', 'expires_ms'])
      .executeTakeFirstOrThrow();
    return { count: row.count, resetAtMs: Number(row.expires_ms) };
  }

  async attempt(
    key: string,
    policy: ThrottlePolicy,
    nowMs: number,
    ttlMs: number,
  ): Promise<ThrottleDecision> {
    return this.db.transaction().execute(async (trx) => {
      // The row lock serialises concurrent attempts on one account across instances.
      await trx
        .insertInto('abuse_counters')
        .values({ key, count: 0, touched_ms: 0, expires_ms: 0 })
        .onConflict((oc) => oc.column('key').doNothing())
        .execute();
      const row = await trx
        .selectFrom('abuse_counters')
        .select(['count', 'touched_ms', 'expires_ms'])
        .where('key', '=', key)
        .forUpdate()
        .executeTakeFirst();
      const state =
        row && Number(row.expires_ms) > nowMs
          ? { failures: row.count, lastFailureMs: Number(row.touched_ms) }
          : undefined;
      const decision = decideAttempt(state, nowMs, policy);
      if (decision.allowed) {
        await trx
          .updateTable('abuse_counters')
          .set({ count: decision.failures, touched_ms: nowMs, expires_ms: nowMs + ttlMs })
          .where('key', '=', key)
          .execute();
      }
      return decision;
    });
  }

  async clear(key: string): Promise<void> {
    await this.db.deleteFrom('abuse_counters').where('key', '=', key).execute();
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}

export interface OutageLogger {
  error(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/**
 * The Redis-outage policy for limits. While the shared store fails, every instance falls back
 * to its own in-memory counters (limits then hold per instance); once the outage has lasted
 * longer than `graceMs`, operations marked `failClosed` (sign-in: login and token, and the
 * login throttle) are refused with 503 `rate_limiter_unavailable` instead, so a long outage
 * cannot be used to escape the shared limits. Other limits keep the fallback. The first error
 * of an outage and the recovery are logged once.
 *
 * The first failure marks the shared store down, and from then on it is not called at all until
 * `probe` (every `probeIntervalMs`) succeeds: a Redis that hangs would otherwise cost each call
 * its full command timeout, several times per login.
 */
export class ResilientCounterStore implements CounterStore {
  private outageSinceMs: number | null = null;
  private probeTimer: NodeJS.Timeout | undefined;
  /** Operations answered by the fallback or refused because the shared store failed. */
  readonly stats = { fallbacks: 0, refusals: 0, outages: 0 };

  constructor(
    private readonly primary: CounterStore,
    private readonly fallback: CounterStore,
    private readonly o: {
      graceMs: number;
      now: () => number;
      log: OutageLogger;
      /** Resolves when the shared store answers again (a Redis PING). */
      probe: () => Promise<unknown>;
      probeIntervalMs?: number;
    },
  ) {}

  get kind() {
    return this.primary.kind;
  }

  /** True while the shared store is failing. */
  get degraded(): boolean {
    return this.outageSinceMs !== null;
  }

  hit(key: string, windowMs: number, nowMs: number, opts: { failClosed?: boolean } = {}) {
    return this.run(
      () => this.primary.hit(key, windowMs, nowMs),
      () => this.fallback.hit(key, windowMs, nowMs),
      opts.failClosed ?? false,
    );
  }

  attempt(
    key: string,
    policy: ThrottlePolicy,
    nowMs: number,
    ttlMs: number,
    opts: { failClosed?: boolean } = {},
  ) {
    return this.run(
      () => this.primary.attempt(key, policy, nowMs, ttlMs),
      () => this.fallback.attempt(key, policy, nowMs, ttlMs),
      opts.failClosed ?? false,
    );
  }

  async clear(key: string): Promise<void> {
    await this.fallback.clear(key);
    await this.run(
      () => this.primary.clear(key),
      async () => {},
      false,
    );
  }

  async close(): Promise<void> {
    clearInterval(this.probeTimer);
    await this.fallback.close();
    await this.primary.close();
  }

  private async run<T>(
    shared: () => Promise<T>,
    local: () => Promise<T>,
    failClosed: boolean,
  ): Promise<T> {
    if (this.outageSinceMs === null) {
      try {
        return await shared();
      } catch (error) {
        this.startOutage(error);
      }
    }
    const since = this.outageSinceMs ?? this.o.now();
    if (failClosed && this.o.now() - since > this.o.graceMs) {
      this.stats.refusals++;
      throw new CounterStoreUnavailableError();
    }
    this.stats.fallbacks++;
    return local();
  }

  private startOutage(error: unknown) {
    if (this.outageSinceMs !== null) return;
    this.outageSinceMs = this.o.now();
    this.stats.outages++;
    this.o.log.error(
      { err: error, graceMs: this.o.graceMs },
      'rate-limit store unreachable: limits fall back to this instance; sign-in is refused if it lasts beyond the grace',
    );
    let probing = false;
    this.probeTimer = setInterval(() => {
      if (probing) return;
      probing = true;
      this.o.probe().then(
        () => {
          probing = false;
          if (this.outageSinceMs === null) return;
          this.o.log.info(
            { outageMs: this.o.now() - this.outageSinceMs },
            'rate-limit store is back: shared limits apply again',
          );
          this.outageSinceMs = null;
          clearInterval(this.probeTimer);
        },
        () => {
          probing = false;
        },
      );
    }, this.o.probeIntervalMs ?? 500);
    this.probeTimer.unref();
  }
}
