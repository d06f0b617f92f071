import type { SessionRevocation } from '../store/session-events.js';
import type { SessionWithUser } from '../store/sessions.js';

export interface SessionCacheOptions {
  /** How long a validated session may be answered from memory (a few seconds at most). */
  ttlMs: number;
  maxEntries?: number;
  /** Monotonic milliseconds (tests inject their own). */
  now?: () => number;
  /** How long a revoked session or user is kept out of the cache (covers a revocation whose
   * transaction has not committed yet when its message arrives). */
  tombstoneMs?: number;
}

interface CacheEntry {
  value: SessionWithUser;
  expiresMs: number;
}

/**
 * An in-process cache of validated sessions in front of the database, so the hot path
 * (`GET /auth/me`, every authenticated request) costs no database round trip.
 *
 * Safety: entries live `ttlMs` at most; a revocation (from this instance or, through the
 * invalidation channel, any other) evicts at once and keeps that session/user out of the cache
 * for a while; and while the channel is disconnected nothing is cached or answered from the
 * cache, so a missed message can never leave a revoked session alive here. `AuthService` still
 * checks expiry and the disabled flag on every answer, cached or not.
 */
export class SessionCache {
  private readonly entries = new Map<string, CacheEntry>();
  /** Bearer requests: sessions by id (the access token's `sid`), under the same rules. */
  private readonly byId = new Map<string, CacheEntry>();
  private readonly revokedSessions = new Map<string, number>();
  private readonly revokedUsers = new Map<string, number>();
  private connected = false;
  private gen = 0;
  private readonly now: () => number;
  private readonly maxEntries: number;
  private readonly tombstoneMs: number;
  readonly stats = { hits: 0, misses: 0, bypassed: 0, invalidations: 0, disconnects: 0 };

  constructor(private readonly o: SessionCacheOptions) {
    this.now = o.now ?? (() => performance.now());
    this.maxEntries = o.maxEntries ?? 50_000;
    this.tombstoneMs = o.tombstoneMs ?? 30_000;
  }

  /** Whether answers may come from the cache: the channel is up and a TTL is set. */
  get active(): boolean {
    return this.connected && this.o.ttlMs > 0;
  }

  /** Changes on every disconnect: a read that began before one must not be cached. */
  get generation(): number {
    return this.gen;
  }

  get(tokenHash: string): SessionWithUser | undefined {
    if (!this.active) {
      this.stats.bypassed++;
      return undefined;
    }
    const entry = this.entries.get(tokenHash);
    if (!entry || entry.expiresMs <= this.now()) {
      if (entry) this.entries.delete(tokenHash);
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    return entry.value;
  }

  /** Caches a session read from the database, unless something made it unsafe meanwhile. */
  set(tokenHash: string, value: SessionWithUser, generation: number): void {
    if (!this.active || generation !== this.gen) return;
    const now = this.now();
    if (this.isTombstoned(this.revokedSessions, value.session.id, now)) return;
    if (this.isTombstoned(this.revokedUsers, value.user.id, now)) return;
    this.store(this.entries, tokenHash, value, now);
  }

  /** The session behind an access token (`sid`), as `get` does for a cookie's token hash. */
  getById(sessionId: string): SessionWithUser | undefined {
    if (!this.active) {
      this.stats.bypassed++;
      return undefined;
    }
    const entry = this.byId.get(sessionId);
    if (!entry || entry.expiresMs <= this.now()) {
      if (entry) this.byId.delete(sessionId);
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    return entry.value;
  }

  /** Caches a session read by id, with the same precautions as `set`. */
  setById(value: SessionWithUser, generation: number): void {
    if (!this.active || generation !== this.gen) return;
    const now = this.now();
    if (this.isTombstoned(this.revokedSessions, value.session.id, now)) return;
    if (this.isTombstoned(this.revokedUsers, value.user.id, now)) return;
    this.store(this.byId, value.session.id, value, now);
  }

  /** A session (or all of a user's) was revoked: evict now, and keep it out for a while. */
  revoked(event: SessionRevocation): void {
    this.stats.invalidations++;
    const until = this.now() + this.tombstoneMs;
    if ('userId' in event) {
      this.revokedUsers.set(event.userId, until);
      for (const [key, entry] of this.entries) {
        if (entry.value.user.id === event.userId) this.entries.delete(key);
      }
      for (const [key, entry] of this.byId) {
        if (entry.value.user.id === event.userId) this.byId.delete(key);
      }
    } else {
      const ids = new Set(event.sessionIds);
      for (const id of ids) {
        this.revokedSessions.set(id, until);
        this.byId.delete(id);
      }
      for (const [key, entry] of this.entries) {
        if (ids.has(entry.value.session.id)) this.entries.delete(key);
      }
    }
    this.pruneTombstones();
  }

  /** The invalidation channel's state: while down, the cache is emptied and bypassed. */
  setConnected(connected: boolean): void {
    if (!connected) {
      if (this.connected) this.stats.disconnects++;
      this.gen++;
      this.entries.clear();
      this.byId.clear();
    }
    this.connected = connected;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Adds an entry at the end of `map`, which so stays in expiry order (one TTL for all): expired
   * entries are dropped from the front, so the cache holds the sessions seen within the TTL
   * rather than filling up to `maxEntries` with dead ones that nobody asks for again.
   */
  private store(map: Map<string, CacheEntry>, key: string, value: SessionWithUser, now: number) {
    map.delete(key);
    map.set(key, { value, expiresMs: now + this.o.ttlMs });
    for (const [oldest, entry] of map) {
      if (entry.expiresMs > now && map.size <= this.maxEntries) break;
      map.delete(oldest);
    }
  }

  private isTombstoned(map: Map<string, number>, id: string, now: number): boolean {
    const until = map.get(id);
    if (until === undefined) return false;
    if (until > now) return true;
    map.delete(id);
    return false;
  }

  private pruneTombstones() {
    if (this.revokedSessions.size + this.revokedUsers.size < 10_000) return;
    const now = this.now();
    for (const map of [this.revokedSessions, this.revokedUsers]) {
      for (const [id, until] of map) if (until <= now) map.delete(id);
    }
  }
}
