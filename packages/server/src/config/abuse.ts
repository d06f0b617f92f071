import { z } from 'zod';
import { type Documented, documented } from './docs.js';
import { boolean, duration, isOffWord, parseDuration } from './values.js';
import type { RateLimit, RateRule } from '../core/rate-limits.js';

/**
 * The environment variables of abuse protection and scale-out (rate limits, the login throttle,
 * Redis, the session cache). Spread into config.ts's one schema, so a bad value names its
 * variable like every other.
 */

const RATE_GRAMMAR =
  'a rate such as 30/5m or 10/1h (count/window, the window in whole seconds or more), or off';

/** "30/5m" (30 requests per 5 minutes), or "off" (any of the boolean grammar's false words). */
const rate = () =>
  z.string().transform((value, ctx): RateLimit | null => {
    if (isOffWord(value)) return null;
    const match = /^(\d+)\s*\/\s*(.+)$/.exec(value.trim());
    const max = Number(match?.[1]);
    const windowSeconds = match ? parseDuration(match[2] ?? '') : Number.NaN;
    if (!match || !Number.isInteger(windowSeconds)) {
      ctx.addIssue({ code: 'custom', message: RATE_GRAMMAR });
      return z.NEVER;
    }
    if (max <= 0 || windowSeconds <= 0) {
      ctx.addIssue({ code: 'custom', message: 'a rate above 0' });
      return z.NEVER;
    }
    return { max, windowSeconds };
  });

const rateVariable = (fallback: string, description: string) =>
  documented(rate().prefault(fallback), { group: 'abuse', description });

export const abuseEnvShape = {
  RATE_LIMITS: documented(boolean().prefault('on'), {
    group: 'abuse',
    description:
      '`off` switches the per-IP and per-account request limits off (load tests; logs a warning); the login throttle stays.',
  }),
  RATE_LIMIT_SIGNIN_IP: rateVariable('30/5m', 'Login and token requests per client IP.'),
  RATE_LIMIT_SIGNIN_ACCOUNT: rateVariable('10/5m', 'Login and token requests per email.'),
  RATE_LIMIT_REGISTER_IP: rateVariable('10/1h', 'Sign-ups per IP.'),
  RATE_LIMIT_REGISTER_ACCOUNT: rateVariable('3/1h', 'Sign-ups per email.'),
  RATE_LIMIT_VERIFY_IP: rateVariable('30/10m', 'Verify-email requests per IP.'),
  RATE_LIMIT_RESEND_IP: rateVariable('10/1h', 'Resend-verification requests per IP.'),
  RATE_LIMIT_RESEND_ACCOUNT: rateVariable('3/1h', 'Resend-verification requests per email.'),
  RATE_LIMIT_FORGOT_IP: rateVariable('10/1h', 'Forgot-password requests per IP.'),
  RATE_LIMIT_FORGOT_ACCOUNT: rateVariable('3/1h', 'Forgot-password requests per email.'),
  RATE_LIMIT_RESET_IP: rateVariable('20/1h', 'Reset-password requests per IP.'),
  RATE_LIMIT_CHANGE_EMAIL_IP: rateVariable('10/1h', 'Change-email requests per IP.'),
  RATE_LIMIT_CHANGE_EMAIL_ACCOUNT: rateVariable(
    '3/1h',
    'Change-email requests per new address, counted once the caller is signed in and typed the right password.',
  ),
  LOGIN_THROTTLE_AFTER: documented(z.coerce.number().int().min(1).max(1000).default(5), {
    group: 'abuse',
    description:
      'From this many consecutive failed passwords on an email, each attempt waits: 1 s, doubling up to `LOGIN_THROTTLE_MAX_DELAY` (1–1000).',
  }),
  LOGIN_THROTTLE_MAX_DELAY: documented(duration({ min: 1 }).prefault('15m'), {
    group: 'abuse',
    description: 'The longest throttle delay (at least `1s`).',
  }),
  LOGIN_LOCK_AFTER: documented(z.coerce.number().int().min(2).max(100_000).default(100), {
    group: 'abuse',
    description:
      'Consecutive failures after which password login is off for that email until a password reset (2–100000).',
  }),
  REDIS_URL: documented(
    z.url({ protocol: /^rediss?$/, error: 'a redis:// or rediss:// URL' }).optional(),
    {
      group: 'redis',
      description:
        'Keep rate-limit counters, throttles and session-cache invalidation in Redis, shared by every instance.',
      example: 'redis://cache:6379/0',
    },
  ),
  REDIS_KEY_PREFIX: documented(z.string().min(1).max(100).default('latchkey:'), {
    group: 'redis',
    description: 'Prefix of every Redis key and of the pub/sub channel.',
  }),
  REDIS_OUTAGE_GRACE: documented(duration({ min: 0 }).prefault('30s'), {
    group: 'redis',
    description:
      'While Redis is down, limits fall back to each instance; after this long, login and token requests answer 503 until it is back.',
  }),
  SESSION_CACHE_TTL: documented(
    duration({ min: 0, max: 10, maxReason: 'revocations rely on it as a safety net' }).optional(),
    {
      group: 'sessions',
      default: '`5s`; unset, off on PostgreSQL without Redis',
      description:
        'How long an instance answers a validated session from memory (at most `10s`; `0` turns it off). Revocations evict it at once.',
    },
  ),
} satisfies Record<string, Documented>;

type AbuseEnv = z.output<z.ZodObject<typeof abuseEnvShape>>;

/** Per rule, the per-IP and per-account limits (null: that limit is off). */
type RuleLimits = Record<RateRule, { ip: RateLimit | null; account: RateLimit | null }>;

/** Rate limits, the login throttle, Redis and the session cache. */
export type AbuseConfig = ReturnType<typeof abuseConfig>;

export function abuseConfig(e: AbuseEnv) {
  const limits: RuleLimits = {
    signin: { ip: e.RATE_LIMIT_SIGNIN_IP, account: e.RATE_LIMIT_SIGNIN_ACCOUNT },
    register: { ip: e.RATE_LIMIT_REGISTER_IP, account: e.RATE_LIMIT_REGISTER_ACCOUNT },
    verify: { ip: e.RATE_LIMIT_VERIFY_IP, account: null },
    resend: { ip: e.RATE_LIMIT_RESEND_IP, account: e.RATE_LIMIT_RESEND_ACCOUNT },
    forgot: { ip: e.RATE_LIMIT_FORGOT_IP, account: e.RATE_LIMIT_FORGOT_ACCOUNT },
    reset: { ip: e.RATE_LIMIT_RESET_IP, account: null },
    change_email: {
      ip: e.RATE_LIMIT_CHANGE_EMAIL_IP,
      account: e.RATE_LIMIT_CHANGE_EMAIL_ACCOUNT,
    },
  };
  return {
    /** false with RATE_LIMITS=off: no per-IP or per-account request limits (the throttle stays). */
    rateLimitsEnabled: e.RATE_LIMITS,
    limits,
    throttle: {
      delayFrom: e.LOGIN_THROTTLE_AFTER,
      baseDelayMs: 1000,
      maxDelayMs: e.LOGIN_THROTTLE_MAX_DELAY * 1000,
      lockAfter: e.LOGIN_LOCK_AFTER,
    },
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    redisOutageGraceMs: Math.round(e.REDIS_OUTAGE_GRACE * 1000),
    sessionCacheTtlMs: Math.round((e.SESSION_CACHE_TTL ?? 5) * 1000),
    /**
     * SESSION_CACHE_TTL was set. Unset, the cache is off on PostgreSQL without Redis, where a
     * revocation reaches other instances only after the logout has answered (app/abuse.ts).
     */
    sessionCacheTtlSet: e.SESSION_CACHE_TTL !== undefined,
  };
}
