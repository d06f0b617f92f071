import type { WindowHit, WindowStore } from '../store/counter-rules.js';
import type { Clock } from './clock.js';
import { accountKey, rateLimited } from './throttle.js';

/** At most `max` requests per `windowSeconds`. */
export interface RateLimit {
  max: number;
  windowSeconds: number;
}

/** One family of protected requests; login and token share `signin`. */
export type RateRule =
  'signin' | 'register' | 'verify' | 'resend' | 'forgot' | 'reset' | 'change_email';

/** Whether a hit is within `limit`, and how long to wait if not. */
export function verdict(hit: WindowHit, limit: RateLimit, nowMs: number) {
  return hit.count <= limit.max
    ? { allowed: true as const }
    : { allowed: false as const, retryAfterMs: Math.max(1000, hit.resetAtMs - nowMs) };
}

/** Rules whose limiter fails closed (after the outage grace) when the shared store is down. */
export const FAIL_CLOSED_RULES: ReadonlySet<RateRule> = new Set(['signin']);

/**
 * Per-account request limits: each rule counts requests per normalised email (or other
 * account key) in its own window, the same for existing and unknown accounts. The per-IP
 * limits are the http layer's (@fastify/rate-limit over the same store).
 */
export class AccountRateLimiter {
  constructor(
    private readonly o: {
      store: WindowStore;
      limits: Record<RateRule, { account: RateLimit | null }>;
      clock: Clock;
      enabled: boolean;
    },
  ) {}

  /**
   * Counts one request of `rule` for `email`; throws 429 `rate_limited` beyond the limit. A
   * request from a trusted device of the account (`deviceId`, core/device-cookies.ts) counts
   * in that device's own window, so strangers spending the account's cannot keep it out.
   */
  async consume(rule: RateRule, email: string, deviceId?: string | null): Promise<void> {
    const limit = this.o.limits[rule].account;
    if (!this.o.enabled || !limit) return;
    const now = this.o.clock().getTime();
    const hit = await this.o.store.hit(
      deviceId ? `acct:${rule}:device:${deviceId}` : `acct:${rule}:${accountKey(email)}`,
      limit.windowSeconds * 1000,
      now,
      { failClosed: FAIL_CLOSED_RULES.has(rule) },
    );
    const v = verdict(hit, limit, now);
    if (!v.allowed) throw rateLimited(v.retryAfterMs);
  }
}
