import { createHash } from 'node:crypto';
import {
  type ThrottleDecision,
  type ThrottlePolicy,
  type ThrottleStore,
} from '../store/counter-rules.js';
import type { Clock } from './clock.js';
import { AuthError } from './errors.js';

/**
 * The per-account login throttle: consecutive failed passwords on one email bring growing
 * delays (from the `delayFrom`-th failure, 1 s doubling up to `maxDelayMs`), and after
 * `lockAfter` consecutive failures password sign-in is off until a password reset clears it
 * (NIST SP 800-63B). A success clears it too. Keyed by the normalised email, so an unknown
 * address is throttled exactly like a real one and a 429 tells nothing about existence.
 *
 * Every attempt is counted as a failure *before* the password is checked (atomically with the
 * decision, in the shared store), and a success then clears the count: a burst of parallel
 * guesses cannot slip past the throttle while the first ones are still hashing.
 *
 * An attempt from a trusted device (a valid device cookie, core/device-cookies.ts) counts in
 * that device's own record instead, with the same policy: strangers' failures on the account
 * never hold it back, and its own failures hold back only that device.
 */
/** How long an abandoned throttle record lives after its last failure. */
export const THROTTLE_TTL_MS = 30 * 86_400_000;

/** The stable, non-reversible key of an email (no plain addresses in Redis or logs). */
export function accountKey(email: string): string {
  const normalised = email.normalize('NFKC').trim().toLowerCase();
  return createHash('sha256').update(normalised).digest('base64url').slice(0, 32);
}

export const rateLimited = (retryAfterMs: number) =>
  new AuthError('rate_limited', 429, 'Too many attempts. Wait a moment, then try again.', {
    retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)),
  });

/** An attempt that passed the throttle; report its outcome through the throttle. */
export interface ThrottleTicket {
  /** The store key of the record the attempt was counted in. */
  key: string;
  failures: number;
  /** Whose record: the account's (every untrusted client) or one trusted device's. */
  scope: 'account' | 'device';
}

export class LoginThrottle {
  private readonly prefix: string;

  /** `keyPrefix` keeps apart throttles that share a store (passwords, second-step codes). */
  constructor(
    private readonly o: {
      store: ThrottleStore;
      policy: ThrottlePolicy;
      clock: Clock;
      keyPrefix?: string;
    },
  ) {
    this.prefix = o.keyPrefix ?? 'throttle';
  }

  get policy(): ThrottlePolicy {
    return this.o.policy;
  }

  /**
   * Call before checking a password: throws 429 `rate_limited` (Retry-After) while the email
   * is throttled or locked, without looking at the password or the account. With `deviceId`
   * (a trusted device of this email), the device's record decides instead of the account's.
   */
  async begin(email: string, deviceId?: string | null): Promise<ThrottleTicket> {
    if (deviceId) {
      const key = `throttle:device:${deviceId}`;
      const decision = await this.attempt(key);
      if (decision.allowed) return { key, failures: decision.failures, scope: 'device' };
      // A device at its own lock is trusted no more: it joins the untrusted clients (and their
      // throttle) until a sign-in there gives it a new device cookie.
      if (!decision.locked) throw rateLimited(decision.retryAfterMs);
    }
    const key = `${this.prefix}:${accountKey(email)}`;
    const decision = await this.attempt(key);
    if (!decision.allowed) throw rateLimited(decision.retryAfterMs);
    return { key, failures: decision.failures, scope: 'account' };
  }

  private attempt(key: string): Promise<ThrottleDecision> {
    return this.o.store.attempt(key, this.o.policy, this.o.clock().getTime(), THROTTLE_TTL_MS, {
      failClosed: true,
    });
  }

  /** What a failed attempt started (for the audit log): a throttle, a lock, or nothing new. */
  failureOutcome(ticket: ThrottleTicket): 'throttled' | 'locked' | null {
    if (ticket.failures === this.o.policy.lockAfter) return 'locked';
    if (ticket.failures === this.o.policy.delayFrom) return 'throttled';
    return null;
  }

  /**
   * The right password: the count of the record it was counted in starts again. A trusted
   * device's success leaves the account's record alone, or every sign-in of the owner would
   * hand the strangers guessing at it a fresh start.
   */
  async succeeded(ticket: ThrottleTicket): Promise<void> {
    await this.o.store.clear(ticket.key);
  }

  /**
   * Clears the throttle (and the lock) of an email's untrusted clients: call after a successful
   * password reset, with the account's email (and with the address the reset was asked for, if
   * different).
   */
  async clear(email: string): Promise<void> {
    await this.o.store.clear(`${this.prefix}:${accountKey(email)}`);
  }
}
