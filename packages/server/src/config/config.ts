import { availableParallelism } from 'node:os';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';
import { type AbuseConfig, abuseConfig, abuseEnvShape } from './abuse.js';
import { type AdminConfig, adminConfig, adminEnvShape } from './admin.js';
import { duration as durationOf, isLoopbackHost } from './values.js';
import { OWASP_MINIMUM } from '../core/passwords.js';

const duration = durationOf();

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], 'true or false')
  .transform((value) => ['true', '1', 'yes', 'on'].includes(value));

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const httpUrl = z.url({ protocol: /^https?$/, error: 'an http(s) URL' });

/** A proxy address or CIDR, or one of proxy-addr's named ranges. */
function isProxyAddress(value: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(value)) return true;
  const [address = '', prefix, ...rest] = value.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d+$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * TRUST_PROXY: "false" (default), a hop count ("1": the address the nearest proxy saw), or a
 * comma list of the proxies' addresses/CIDRs. "true" (trust every hop) is refused: the
 * left-most X-Forwarded-For entry is whatever the client wrote there.
 */
const trustProxy = z
  .string()
  .transform((value): false | number | string[] => {
    if (value === 'false' || value === '0') return false;
    if (/^\d+$/.test(value)) return Number(value);
    return value
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean);
  })
  .refine(
    (value) => !Array.isArray(value) || (value.length > 0 && value.every(isProxyAddress)),
    'a hop count such as 1 (the number of proxies in front of Latchkey), or the addresses/CIDRs of your proxies such as 10.0.0.0/8,192.168.1.7; "true" is not accepted, since it would believe the client-written left end of X-Forwarded-For',
  );

const envSchema = z.object({
  NODE_ENV: z
    .enum(['development', 'production', 'test'], 'development, production or test')
    .default('development'),
  PORT: int(0, 65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'a postgres:// URL' }).optional(),
  // How long a request waits on PostgreSQL before answering 503 (a frozen or stopped server).
  DATABASE_STATEMENT_TIMEOUT: durationOf({ hint: '5s or 1500ms' }).default(5),
  DATABASE_POOL_TIMEOUT: durationOf({ hint: '3s or 500ms' }).default(3),
  PUBLIC_URL: httpUrl.optional(),
  CORS_ORIGINS: z.string().default(''),
  TRUST_PROXY: trustProxy.default(false),
  SERVICE_NAME: z.string().min(1).max(100).default('Latchkey'),
  SMTP_URL: z.url({ protocol: /^smtps?$/, error: 'an smtp:// or smtps:// URL' }).optional(),
  MAIL_FROM: z.string().min(3).default('Latchkey <no-reply@localhost>'),
  REQUIRE_EMAIL_VERIFICATION: bool.default(true),
  PASSWORD_MIN_LENGTH: int(8, 256).default(15),
  PASSWORD_MIN_SCORE: int(0, 4).default(3),
  // Optional breached-password lookup (k-anonymity range API such as Pwned Passwords).
  HIBP_URL: httpUrl.optional(),
  HIBP_TIMEOUT: duration.default(2),
  ARGON2_MEMORY_KIB: int(8 * 1024, 4 * 1024 * 1024).default(OWASP_MINIMUM.memoryCost),
  ARGON2_ITERATIONS: int(1, 100).default(OWASP_MINIMUM.timeCost),
  ARGON2_PARALLELISM: int(1, 16).default(OWASP_MINIMUM.parallelism),
  HASH_CONCURRENCY: int(1, 256).default(availableParallelism()),
  HASH_QUEUE_MAX: int(0, 100_000).default(256),
  SESSION_IDLE_TIMEOUT: duration.default(7 * 86400),
  SESSION_ABSOLUTE_TIMEOUT: duration.default(30 * 86400),
  VERIFY_TOKEN_TTL: duration.default(24 * 3600),
  RESET_TOKEN_TTL: duration.default(30 * 60),
  BODY_LIMIT: int(1024, 10 * 1024 * 1024).default(64 * 1024),
  // How long a client may take to send a whole request, and its headers (slow-client floods).
  REQUEST_TIMEOUT: duration.default(30),
  HEADERS_TIMEOUT: duration.default(10),
  ...abuseEnvShape,
  ...adminEnvShape,
  KEY_ENCRYPTION_SECRET: z
    .string()
    .min(32, 'a secret of at least 32 characters (openssl rand -base64 32)')
    .optional(),
  ACCESS_TOKEN_TTL: duration.refine((s) => s <= 86400, 'a duration of at most 24h').default(600),
  ACCESS_TOKEN_AUDIENCE: z.string().min(1).optional(),
  REFRESH_REUSE_GRACE_SECONDS: int(0, 300).default(10),
  // Branding of the web pages, read at start: no rebuild needed.
  BRAND_NAME: z.string().min(1).max(100).optional(),
  BRAND_PRIMARY_COLOR: z
    .string()
    .regex(/^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/, 'a hex colour such as #1d4ed8')
    .default('#1d4ed8'),
  BRAND_LOGO_URL: z
    .string()
    .regex(/^(https?:\/\/|\/)[^\s"'<>]*$/, 'an http(s) URL or a path starting with /')
    .optional(),
  WEB_DIST_DIR: z.string().min(1).optional(),
});

export type Env = z.input<typeof envSchema>;

export interface Config {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  logLevel: string;
  dataDir: string;
  databaseUrl: string | undefined;
  /** DATABASE_STATEMENT_TIMEOUT and DATABASE_POOL_TIMEOUT (PostgreSQL only). */
  databaseTimeouts: { statementTimeoutMs: number; poolTimeoutMs: number };
  publicUrl: URL;
  corsOrigins: string[];
  trustProxy: false | number | string[];
  serviceName: string;
  smtpUrl: string | undefined;
  mailFrom: string;
  requireEmailVerification: boolean;
  password: {
    minLength: number;
    minScore: number;
    /** HIBP_URL (ending in /) and HIBP_TIMEOUT: the breached-password lookup, when set. */
    breachCheck: { url: string; timeoutMs: number } | undefined;
  };
  argon2: { memoryCost: number; timeCost: number; parallelism: number };
  hashing: { concurrency: number; queueMax: number };
  session: { idleTimeoutSeconds: number; absoluteTimeoutSeconds: number; secureCookie: boolean };
  tokens: { verifyEmailTtlSeconds: number; resetPasswordTtlSeconds: number };
  bodyLimit: number;
  /** REQUEST_TIMEOUT and HEADERS_TIMEOUT: receiving a request, then its headers, in ms. */
  timeouts: { requestMs: number; headersMs: number };
  /** The web pages: built assets and branding. */
  web: {
    distDir: string | undefined;
    brand: { name: string; primaryColor: string; logoUrl: string | undefined };
  };
  /** Rate limits, the login throttle, Redis and the session cache (abuse.ts). */
  abuse: AbuseConfig;
  /** Bootstrap admin, audit and mail retention, metrics (admin.ts). */
  admin: AdminConfig;
  /** Access JWTs and refresh tokens (token mode). */
  jwt: {
    issuer: string;
    audience: string;
    accessTtlSeconds: number;
    reuseGraceSeconds: number;
    /** Undefined: generated once into DATA_DIR (see key-file.ts). */
    keyEncryptionSecret: string | undefined;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * The dev mailbox (`/dev/mail`, mail kept in memory) stands in for SMTP only outside production
 * and on a loopback HOST: its page shows live links to whoever can reach it.
 */
export function servesDevMailbox(config: Pick<Config, 'env' | 'host' | 'smtpUrl'>): boolean {
  return !config.smtpUrl && config.env !== 'production' && isLoopbackHost(config.host);
}

/** Reads the configuration once from the environment; throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings count as unset, so `FOO=` in a .env file falls back to the default.
  const present = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => key in envSchema.shape && value !== ''),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? '');
        return `${name}=${JSON.stringify(present[name] ?? '')} is invalid: expected ${issue.message}`;
      }),
    );
  }
  const e = parsed.data;
  const problems: string[] = [];
  const publicUrl = new URL(e.PUBLIC_URL ?? `http://localhost:${e.PORT}`);
  const corsOrigins = e.CORS_ORIGINS.split(',')
    .map((origin) => origin.trim())
    .filter(Boolean)
    .map((origin) => {
      try {
        return new URL(origin).origin;
      } catch {
        problems.push(
          `CORS_ORIGINS contains ${JSON.stringify(origin)}: expected origins such as https://app.example.com`,
        );
        return '';
      }
    });
  if (e.SESSION_IDLE_TIMEOUT > e.SESSION_ABSOLUTE_TIMEOUT) {
    problems.push('SESSION_IDLE_TIMEOUT must not be longer than SESSION_ABSOLUTE_TIMEOUT');
  }
  if (e.HEADERS_TIMEOUT > e.REQUEST_TIMEOUT) {
    problems.push('HEADERS_TIMEOUT must not be longer than REQUEST_TIMEOUT');
  }
  if (e.NODE_ENV === 'production') productionProblems(e, publicUrl, problems);
  if (e.DATABASE_URL && e.NODE_ENV === 'production' && !e.KEY_ENCRYPTION_SECRET) {
    problems.push(
      'KEY_ENCRYPTION_SECRET is required in production with DATABASE_URL (every instance must decrypt the signing keys): set the same 32+ character secret on each instance',
    );
  }
  const admin = adminConfig(e, problems);
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    dataDir: resolve(e.DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    databaseTimeouts: {
      statementTimeoutMs: Math.round(e.DATABASE_STATEMENT_TIMEOUT * 1000),
      poolTimeoutMs: Math.round(e.DATABASE_POOL_TIMEOUT * 1000),
    },
    publicUrl,
    corsOrigins,
    trustProxy: e.TRUST_PROXY,
    serviceName: e.SERVICE_NAME,
    smtpUrl: e.SMTP_URL,
    mailFrom: e.MAIL_FROM,
    requireEmailVerification: e.REQUIRE_EMAIL_VERIFICATION,
    password: {
      minLength: e.PASSWORD_MIN_LENGTH,
      minScore: e.PASSWORD_MIN_SCORE,
      breachCheck: e.HIBP_URL
        ? {
            url: e.HIBP_URL.endsWith('/') ? e.HIBP_URL : `${e.HIBP_URL}/`,
            timeoutMs: Math.round(e.HIBP_TIMEOUT * 1000),
          }
        : undefined,
    },
    argon2: {
      memoryCost: e.ARGON2_MEMORY_KIB,
      timeCost: e.ARGON2_ITERATIONS,
      parallelism: e.ARGON2_PARALLELISM,
    },
    hashing: { concurrency: e.HASH_CONCURRENCY, queueMax: e.HASH_QUEUE_MAX },
    session: {
      idleTimeoutSeconds: e.SESSION_IDLE_TIMEOUT,
      absoluteTimeoutSeconds: e.SESSION_ABSOLUTE_TIMEOUT,
      secureCookie: publicUrl.protocol === 'https:',
    },
    tokens: {
      verifyEmailTtlSeconds: e.VERIFY_TOKEN_TTL,
      resetPasswordTtlSeconds: e.RESET_TOKEN_TTL,
    },
    bodyLimit: e.BODY_LIMIT,
    timeouts: {
      requestMs: Math.round(e.REQUEST_TIMEOUT * 1000),
      headersMs: Math.round(e.HEADERS_TIMEOUT * 1000),
    },
    web: {
      distDir: e.WEB_DIST_DIR ? resolve(e.WEB_DIST_DIR) : undefined,
      brand: {
        name: e.BRAND_NAME ?? e.SERVICE_NAME,
        primaryColor: e.BRAND_PRIMARY_COLOR,
        logoUrl: e.BRAND_LOGO_URL,
      },
    },
    abuse: abuseConfig(e),
    admin,
    jwt: {
      issuer: publicUrl.href.replace(/\/$/, ''),
      audience: e.ACCESS_TOKEN_AUDIENCE ?? publicUrl.href.replace(/\/$/, ''),
      accessTtlSeconds: e.ACCESS_TOKEN_TTL,
      reuseGraceSeconds: e.REFRESH_REUSE_GRACE_SECONDS,
      keyEncryptionSecret: e.KEY_ENCRYPTION_SECRET,
    },
  };
}

/** What production refuses outright, where elsewhere it is a convenience. */
function productionProblems(e: z.output<typeof envSchema>, publicUrl: URL, problems: string[]) {
  if (publicUrl.protocol !== 'https:' && !isLoopbackHost(publicUrl.hostname)) {
    problems.push(
      `PUBLIC_URL=${publicUrl.origin} is not https in production: session cookies would travel without Secure and mailed links in clear. Serve Latchkey over https and set PUBLIC_URL=https://${publicUrl.host}`,
    );
  }
  if (!e.SMTP_URL) {
    problems.push(
      'SMTP_URL is required in production: without it no mail (verification, password reset) reaches anyone. Set SMTP_URL=smtp://user:pass@host:587 (or smtps://…:465)',
    );
  }
  if (!e.METRICS_TOKEN && !e.METRICS_PUBLIC) {
    problems.push(
      'METRICS_TOKEN is required in production: /metrics would be open to anyone. Set METRICS_TOKEN to 16+ random characters (openssl rand -hex 16), or METRICS_PUBLIC=true if only your network can reach /metrics',
    );
  }
}
