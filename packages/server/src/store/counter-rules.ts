/**
 * The counting rules the counter stores apply atomically: fixed request windows and the failed
 * password throttle's record. Pure arithmetic, kept here so the stores (memory, PostgreSQL,
 * Redis) and the limiters in core share one definition.
 */

/** A fixed-window counter: `count` hits so far in the window that ends at `resetAtMs`. */
export interface WindowHit {
  count: number;
  resetAtMs: number;
}

/** The atomic counter a limiter needs from a (possibly shared) store. */
export interface WindowStore {
  hit(
    key: string,
    windowMs: number,
    nowMs: number,
    opts?: { failClosed?: boolean },
  ): Promise<WindowHit>;
}

/**
 * The fixed-window arithmetic every store applies: a hit on a missing or expired window opens
 * a new one; otherwise it counts in the current one.
 */
export function applyHit(
  current: WindowHit | undefined,
  windowMs: number,
  nowMs: number,
): WindowHit {
  if (!current || current.resetAtMs <= nowMs) return { count: 1, resetAtMs: nowMs + windowMs };
  return { count: current.count + 1, resetAtMs: current.resetAtMs };
}

export interface ThrottlePolicy {
  /** The failure count from which a delay applies (5: the 5th failure brings 1 s). */
  delayFrom: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Consecutive failures after which password login is off until a reset. */
  lockAfter: number;
}

export interface ThrottleState {
  failures: number;
  lastFailureMs: number;
}

export type ThrottleDecision =
  | { allowed: true; failures: number }
  | { allowed: false; failures: number; retryAfterMs: number; locked: boolean };

/** How long after the last of `failures` consecutive failures the next attempt may come. */
export function throttleDelayMs(failures: number, p: ThrottlePolicy): number {
  if (failures < p.delayFrom) return 0;
  const exponent = Math.min(failures - p.delayFrom, 40);
  return Math.min(p.baseDelayMs * 2 ** exponent, p.maxDelayMs);
}

/**
 * The decision for an attempt at `nowMs`, and when allowed the state to store (the attempt
 * counted as a failure until it succeeds). Pure: the stores apply it atomically (the Redis
 * store mirrors it in Lua; the shared store tests hold both to the same cases).
 */
export function decideAttempt(
  state: ThrottleState | undefined,
  nowMs: number,
  p: ThrottlePolicy,
): ThrottleDecision {
  const failures = state?.failures ?? 0;
  if (failures >= p.lockAfter) {
    return { allowed: false, failures, retryAfterMs: p.maxDelayMs, locked: true };
  }
  const readyAt = (state?.lastFailureMs ?? 0) + throttleDelayMs(failures, p);
  if (nowMs < readyAt) {
    return { allowed: false, failures, retryAfterMs: readyAt - nowMs, locked: false };
  }
  return { allowed: true, failures: failures + 1 };
}

/** The atomic primitives a throttle needs from a (possibly shared) store. */
export interface ThrottleStore {
  /** Decides and, when allowed, records the attempt, atomically across instances. */
  attempt(
    key: string,
    policy: ThrottlePolicy,
    nowMs: number,
    ttlMs: number,
    opts?: { failClosed?: boolean },
  ): Promise<ThrottleDecision>;
  clear(key: string): Promise<void>;
}
