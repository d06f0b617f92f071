import { z } from 'zod';
import { duration, parseDuration } from './values.js';

/**
 * The environment variables of abuse protection and scale-out (rate limits, the login throttle,
 * Redis, the session cache). Spread into config.ts's one schema, so a bad value names its
 * variable like every other.
 */

/** "30/5m" (30 requests per 5 minutes), or "off". */
const rate = z
  .string()
  .regex(/^(off|\d+\s*\/\s*\d+\s*(s|m|h|d)?)$/, 'a rate such as 30/5m, 10/1h, or off')
  .transform((value): RateLimit | null => {
    if (value === 'off') return null;
    const [max, window] = value.split('/') as [string, string];
    return { max: Number(max.trim()), windowSeconds: parseDuration(window) };
  })
  .refine(
    (limit) => limit === null || (limit.max > 0 && limit.windowSeconds > 0),
    'a rate above 0',
  );

const durationSeconds = (min: number) => duration({ min, hint: '500ms, 30s, 15m or 1h' });

const onOff = z
  .enum(['on', 'off', 'true', 'false', '1', '0'], 'on or off')
  .transform((v) => ['on', 'true', '1'].includes(v));

export interface RateLimit {
  max: number;
  windowSeconds: number;
}

/** One family of protected requests; login and token share `signin`. */
export type RateRule =
  'signin' | 'register' | 'verify' | 'resend' | 'forgot' | 'reset' | 'change_email';

export const abuseEnvShape = {
  RATE_LIMITS: onOff.default(true),
  RATE_LIMIT_SIGNIN_IP: rate.prefault('30/5m'),
  RATE_LIMIT_SIGNIN_ACCOUNT: rate.prefault('10/5m'),
  RATE_LIMIT_REGISTER_IP: rate.prefault('10/1h'),
  RATE_LIMIT_REGISTER_ACCOUNT: rate.prefault('3/1h'),
  RATE_LIMIT_VERIFY_IP: rate.prefault('30/10m'),
  RATE_LIMIT_RESEND_IP: rate.prefault('10/1h'),
  RATE_LIMIT_RESEND_ACCOUNT: rate.prefault('3/1h'),
  RATE_LIMIT_FORGOT_IP: rate.prefault('10/1h'),
  RATE_LIMIT_FORGOT_ACCOUNT: rate.prefault('3/1h'),
  RATE_LIMIT_RESET_IP: rate.prefault('20/1h'),
  RATE_LIMIT_CHANGE_EMAIL_IP: rate.prefault('10/1h'),
  RATE_LIMIT_CHANGE_EMAIL_ACCOUNT: rate.prefault('3/1h'),
  LOGIN_THROTTLE_AFTER: z.coerce.number().int().min(1).max(1000).default(5),
  LOGIN_THROTTLE_MAX_DELAY: durationSeconds(1).default(900),
  LOGIN_LOCK_AFTER: z.coerce.number().int().min(2).max(100_000).default(100),
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'a redis:// or rediss:// URL' }).optional(),
  REDIS_KEY_PREFIX: z.string().min(1).max(100).default('latchkey:'),
  REDIS_OUTAGE_GRACE: durationSeconds(0).default(30),
  SESSION_CACHE_TTL: durationSeconds(0)
    .refine((s) => s <= 10, 'at most 10s: revocations rely on it as a safety net')
    .optional(),
};

type AbuseEnv = z.output<z.ZodObject<typeof abuseEnvShape>>;

export interface AbuseConfig {
  /** false with RATE_LIMITS=off: no per-IP or per-account request limits (the throttle stays). */
  rateLimitsEnabled: boolean;
  /** Per rule, the per-IP and per-account limits (null: that limit is off). */
  limits: Record<RateRule, { ip: RateLimit | null; account: RateLimit | null }>;
  throttle: { delayFrom: number; baseDelayMs: number; maxDelayMs: number; lockAfter: number };
  redisUrl: string | undefined;
  redisKeyPrefix: string;
  redisOutageGraceMs: number;
  sessionCacheTtlMs: number;
  /**
   * SESSION_CACHE_TTL was set. Unset, the cache is off on PostgreSQL without Redis, where a
   * revocation reaches other instances only after the logout has answered (app/abuse.ts).
   */
  sessionCacheTtlSet: boolean;
}

export function abuseConfig(e: AbuseEnv): AbuseConfig {
  return {
    rateLimitsEnabled: e.RATE_LIMITS,
    limits: {
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
    },
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
    sessionCacheTtlSet: e.SESSION_CACHE_TTL !== undefined,
  };
}
