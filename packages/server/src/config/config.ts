// Over 400 lines: most of it is the schema of the core variables with their documentation
// (envShape); the abuse-protection, admin and webhook groups live in abuse.ts, admin.ts and
// webhooks.ts.
import { availableParallelism } from 'node:os';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';
import { abuseConfig, abuseEnvShape } from './abuse.js';
import { adminConfig, adminEnvShape } from './admin.js';
import { webhooksConfig, webhooksEnvShape } from './webhooks.js';
import { type Documented, type VariableDoc, documented, renderConfigurationDoc } from './docs.js';
import { boolean, duration, isLoopbackHost, isOffWord } from './values.js';
import { OWASP_MINIMUM } from '../core/passwords.js';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const httpUrl = () => z.url({ protocol: /^https?$/, error: 'an http(s) URL' });

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
 * TRUST_PROXY: off (default; "false", "0" or another false word), a hop count ("1": the address
 * the nearest proxy saw), or a comma list of the proxies' addresses/CIDRs. "true" (trust every
 * hop) is refused: the left-most X-Forwarded-For entry is whatever the client wrote there.
 */
const trustProxy = z
  .string()
  .transform((value): false | number | string[] => {
    if (isOffWord(value)) return false;
    if (/^\d+$/.test(value.trim())) return Number(value);
    return value
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean);
  })
  .refine(
    (value) => !Array.isArray(value) || (value.length > 0 && value.every(isProxyAddress)),
    'a hop count such as 1 (the number of proxies in front of Latchkey), or the addresses/CIDRs of your proxies such as 10.0.0.0/8,192.168.1.7; "true" is not accepted, since it would believe the client-written left end of X-Forwarded-For',
  );

const doc = <T extends z.ZodType>(
  schema: T,
  group: VariableDoc['group'],
  description: string,
  more: Omit<VariableDoc, 'group' | 'description'> = {},
) => documented(schema, { group, description, ...more });

const envShape = {
  NODE_ENV: doc(
    z
      .enum(['development', 'production', 'test'], 'development, production or test')
      .default('development'),
    'server',
    '`development`, `production` or `test`. `production` hides `/dev/mail` and refuses to start on an http `PUBLIC_URL` (unless loopback), without `SMTP_URL`, or with `/metrics` open.',
  ),
  PORT: doc(int(0, 65535).default(3000), 'server', 'HTTP port.'),
  HOST: doc(
    z.string().min(1).default('127.0.0.1'),
    'server',
    'Interface to listen on; `0.0.0.0` in containers or behind a proxy on another host. The dev mailbox is only served on a loopback `HOST`.',
  ),
  LOG_LEVEL: doc(
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    'server',
    '`fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`. Logs are JSON (pino) and never hold passwords, tokens or cookies.',
  ),
  DATA_DIR: doc(
    z.string().min(1).default('./data'),
    'database',
    'Where the embedded database and the generated key-encryption secret live (the database is unused with `DATABASE_URL`). Kept `0700`/`0600`; a `DATA_DIR` owned by another user is refused.',
  ),
  DATABASE_URL: doc(
    z.url({ protocol: /^postgres(ql)?$/, error: 'a postgres:// URL' }).optional(),
    'database',
    'Use PostgreSQL 14+ instead of the embedded database.',
    { example: 'postgres://user:pass@host:5432/db' },
  ),
  // How long a request waits on PostgreSQL before answering 503 (a frozen or stopped server).
  DATABASE_STATEMENT_TIMEOUT: doc(
    duration().prefault('5s'),
    'database',
    'PostgreSQL: the longest a statement may run; beyond it the request answers 503 `service_unavailable`.',
  ),
  DATABASE_POOL_TIMEOUT: doc(
    duration().prefault('3s'),
    'database',
    'PostgreSQL: the longest wait for a pooled connection; beyond it the request answers 503 `service_unavailable`.',
  ),
  PUBLIC_URL: doc(
    httpUrl().optional(),
    'server',
    'The service’s public address: base of mailed links, the allowed `Origin`, the JWT issuer; https there turns on `Secure`/`__Host-` cookies and HSTS.',
    { default: '`http://localhost:$PORT`', example: 'https://auth.example.com' },
  ),
  CORS_ORIGINS: doc(
    z.string().default(''),
    'server',
    'Comma list of other origins (your front ends) allowed to call the API with credentials.',
    { default: '—', example: 'https://app.example.com,https://admin.example.com' },
  ),
  COOKIE_DOMAIN: doc(
    z
      .string()
      .transform((value) => value.trim().toLowerCase().replace(/^\./, ''))
      .refine(
        (value) => /^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}$/.test(value),
        'a domain name such as example.com',
      )
      .optional(),
    'server',
    'Share the session cookie with sibling subdomains (`Domain=` on the cookie), e.g. Latchkey at auth.example.com and the app at app.example.com. Must contain `PUBLIC_URL`’s host. On https the cookie is then named `__Secure-latchkey_session` (a `__Host-` cookie may not name a Domain). Unset: host-only, the safer choice when the app shares Latchkey’s origin.',
    { default: '— (host-only)', example: 'example.com' },
  ),
  TRUST_PROXY: doc(
    trustProxy.prefault('false'),
    'server',
    'Read the client IP from `X-Forwarded-For`: a hop count (`1` behind one load balancer) or a comma list of proxy addresses/CIDRs. `true` is refused ([why](security.md#client-ip-behind-proxies)).',
    { example: '1' },
  ),
  SERVICE_NAME: doc(
    z.string().min(1).max(100).default('Latchkey'),
    'mail',
    'Shown in mails (and the pages, unless `BRAND_NAME` is set); passwords built from it are refused.',
  ),
  SMTP_URL: doc(
    z.url({ protocol: /^smtps?$/, error: 'an smtp:// or smtps:// URL' }).optional(),
    'mail',
    '`smtp://user:pass@host:587` or `smtps://…:465`; required in production. Without it, mail goes to the log and the dev mailbox (loopback `HOST` only; elsewhere it waits in the outbox).',
  ),
  MAIL_FROM: doc(
    z.string().min(3).default('Latchkey <no-reply@localhost>'),
    'mail',
    'Sender of every mail; mail from `no-reply@localhost` rarely arrives.',
    { example: 'Example <no-reply@example.com>' },
  ),
  REQUIRE_EMAIL_VERIFICATION: doc(
    boolean().prefault('true'),
    'accounts',
    '`false`: sign-up signs in at once (201) and answers 409 `email_taken` for a taken email.',
  ),
  PASSWORD_MIN_LENGTH: doc(
    int(8, 256).default(15),
    'accounts',
    'Minimum length in code points, 8–256 (15 per NIST for a password as the only factor).',
  ),
  PASSWORD_MIN_SCORE: doc(
    int(0, 4).default(3),
    'accounts',
    'Minimum zxcvbn score 0–4 (0 turns the strength check off).',
  ),
  // Optional breached-password lookup (k-anonymity range API such as Pwned Passwords).
  HIBP_URL: doc(
    httpUrl().optional(),
    'accounts',
    'A Pwned Passwords range endpoint: refuse passwords found in breaches (k-anonymity: only a hash prefix leaves). Off when unset.',
    { example: 'https://api.pwnedpasswords.com/range/' },
  ),
  HIBP_TIMEOUT: doc(
    duration().prefault('2s'),
    'accounts',
    'How long that lookup may take; when it fails, the password is judged without it (logged as a warning).',
  ),
  ARGON2_MEMORY_KIB: doc(
    int(8 * 1024, 4 * 1024 * 1024).default(OWASP_MINIMUM.memoryCost),
    'hashing',
    'argon2id memory cost in KiB (OWASP’s minimum by default); older hashes are upgraded at the next login.',
  ),
  ARGON2_ITERATIONS: doc(
    int(1, 100).default(OWASP_MINIMUM.timeCost),
    'hashing',
    'argon2id iterations (time cost).',
  ),
  ARGON2_PARALLELISM: doc(
    int(1, 16).default(OWASP_MINIMUM.parallelism),
    'hashing',
    'argon2id lanes.',
  ),
  HASH_CONCURRENCY: doc(
    int(1, 256).default(availableParallelism()),
    'hashing',
    'Password hashes computed at once.',
    { default: 'CPU count' },
  ),
  HASH_QUEUE_MAX: doc(
    int(0, 100_000).default(256),
    'hashing',
    'Hashes allowed to wait; beyond it login and register answer 503 `server_busy` with `Retry-After`.',
  ),
  SESSION_IDLE_TIMEOUT: doc(
    duration().prefault('7d'),
    'sessions',
    'Sign-out after this much inactivity (at most `SESSION_ABSOLUTE_TIMEOUT`).',
  ),
  SESSION_ABSOLUTE_TIMEOUT: doc(
    duration().prefault('30d'),
    'sessions',
    'Sign-out this long after login, however active.',
  ),
  SESSION_RETENTION: doc(
    duration({ min: 3600 }).prefault('7d'),
    'sessions',
    'Sessions that ended (signed out, revoked, expired) are deleted this long after, with their refresh tokens (at least `1h`). An ended session is refused the same either way; the audit trail keeps its sign-in and sign-out.',
  ),
  REAUTH_MAX_AGE: doc(
    duration().prefault('10m'),
    'sessions',
    'Adding or removing a second factor, regenerating recovery codes and removing a passkey need a sign-in (or `POST /auth/reauthenticate`) within this long; otherwise 403 `reauthentication_required`.',
  ),
  MFA_REQUIRED_ROLES: doc(
    z.string().default('admin'),
    'sessions',
    'Comma list of roles whose holders must sign in with a second factor: routes needing those roles’ permissions answer 403 `mfa_enrollment_required` to a session signed in without one. Empty (`MFA_REQUIRED_ROLES=`) or `none`: no role.',
  ),
  VERIFY_TOKEN_TTL: doc(
    duration().prefault('24h'),
    'accounts',
    'Lifetime of email verification (and email-change) links.',
  ),
  RESET_TOKEN_TTL: doc(duration().prefault('30m'), 'accounts', 'Lifetime of password reset links.'),
  BODY_LIMIT: doc(
    int(1024, 10 * 1024 * 1024).default(64 * 1024),
    'server',
    'Largest request body in bytes, 1024–10485760 (413 `body_too_large` beyond).',
  ),
  // How long a client may take to send a whole request, and its headers (slow-client floods).
  REQUEST_TIMEOUT: doc(
    duration().prefault('30s'),
    'server',
    'Time a client has to send a whole request, body included; then `408` and the connection closes.',
  ),
  HEADERS_TIMEOUT: doc(
    duration().prefault('10s'),
    'server',
    'Time a client has to send the request line and headers (at most `REQUEST_TIMEOUT`).',
  ),
  SHUTDOWN_DELAY: doc(
    duration({
      min: 0,
      max: 300,
      maxReason: 'a stop that long is a hang to an orchestrator',
    }).prefault('0'),
    'server',
    'On SIGTERM, how long to keep serving while `/readyz` answers 503 and every answer closes its connection, so a load balancer moves traffic to the other instances before this one stops (e.g. `5s` behind a proxy that checks readiness every 2 s). `0`: stop at once.',
  ),
  ...abuseEnvShape,
  ...adminEnvShape,
  ...webhooksEnvShape,
  KEY_ENCRYPTION_SECRET: doc(
    z.string().min(32, 'a secret of at least 32 characters (openssl rand -base64 32)').optional(),
    'tokens',
    '32+ characters (`openssl rand -base64 32`); encrypts the JWT signing keys at rest. Required in production with `DATABASE_URL`, and the same on every instance; keep it safe.',
    { default: 'generated into `DATA_DIR`' },
  ),
  ACCESS_TOKEN_TTL: doc(
    duration({ max: 86400 }).prefault('10m'),
    'tokens',
    'Lifetime of access JWTs (at most `24h`); also how long a revoked session’s token stays valid where it is verified locally.',
  ),
  ACCESS_TOKEN_AUDIENCE: doc(
    z.string().min(1).optional(),
    'tokens',
    'The `aud` claim of access JWTs: the API(s) that accept them.',
    { default: '`PUBLIC_URL`', example: 'https://api.example.com' },
  ),
  REFRESH_REUSE_GRACE_SECONDS: doc(
    int(0, 300).default(10),
    'tokens',
    'A refresh token used again within this many seconds (0–300) gets the same new pair (racing tabs); 0 turns it off.',
  ),
  // Branding of the web pages, read at start: no rebuild needed.
  BRAND_NAME: doc(
    z.string().min(1).max(100).optional(),
    'web',
    'Product name in the header and the page titles.',
    { default: '`SERVICE_NAME`' },
  ),
  BRAND_PRIMARY_COLOR: doc(
    z
      .string()
      .regex(/^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/, 'a hex colour such as #1d4ed8')
      .default('#1d4ed8'),
    'web',
    'Buttons, links and focus rings (`#rgb` or `#rrggbb`).',
  ),
  BRAND_LOGO_URL: doc(
    z
      .string()
      .regex(/^(https?:\/\/|\/)[^\s"'<>]*$/, 'an http(s) URL or a path starting with /')
      .optional(),
    'web',
    'Logo in the header: an http(s) URL or a path starting at `/`.',
    { example: '/brand/logo.svg' },
  ),
  WEB_DIST_DIR: doc(
    z.string().min(1).optional(),
    'web',
    'Where the built pages are (`npm run build` makes them).',
    { default: "the server's `web/`" },
  ),
} satisfies Record<string, Documented>;

const envSchema = z.object(envShape);

export type Env = z.input<typeof envSchema>;

/** The parsed configuration: its type is whatever `buildConfig` makes of the schema's output. */
export type Config = ReturnType<typeof buildConfig>;

/** Every variable's schema, with its documentation attached. */
export const configVariables: Readonly<Record<string, Documented>> = envShape;

/** docs/configuration.md before formatting, from the schema's own documentation. */
export function configurationDoc(): string {
  return renderConfigurationDoc(envShape);
}

/** Lists whose empty value means "none" rather than "the default". */
const EMPTY_IS_A_VALUE = new Set(['MFA_REQUIRED_ROLES']);

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
  // Empty strings count as unset, so `FOO=` in a .env file falls back to the default, except
  // where an empty list is a setting of its own.
  const present = Object.fromEntries(
    Object.entries(env).filter(
      ([key, value]) => key in envSchema.shape && (value !== '' || EMPTY_IS_A_VALUE.has(key)),
    ),
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
  const problems: string[] = [];
  const config = buildConfig(parsed.data, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** The nested object the app reads, from the parsed variables; notes what does not fit together. */
function buildConfig(e: z.output<typeof envSchema>, problems: string[]) {
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
  const host = publicUrl.hostname;
  if (e.COOKIE_DOMAIN && host !== e.COOKIE_DOMAIN && !host.endsWith(`.${e.COOKIE_DOMAIN}`)) {
    problems.push(
      `COOKIE_DOMAIN=${e.COOKIE_DOMAIN} does not contain PUBLIC_URL's host ${host}: browsers would refuse the cookie. Use ${host.split('.').slice(-2).join('.')} or unset it`,
    );
  }
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
  const logLevel: string = e.LOG_LEVEL;
  const breachCheck: { url: string; timeoutMs: number } | undefined = e.HIBP_URL
    ? {
        url: e.HIBP_URL.endsWith('/') ? e.HIBP_URL : `${e.HIBP_URL}/`,
        timeoutMs: Math.round(e.HIBP_TIMEOUT * 1000),
      }
    : undefined;

  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    logLevel,
    dataDir: resolve(e.DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    /** DATABASE_STATEMENT_TIMEOUT and DATABASE_POOL_TIMEOUT (PostgreSQL only). */
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
      /** HIBP_URL (ending in /) and HIBP_TIMEOUT: the breached-password lookup, when set. */
      breachCheck,
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
      /** Ended sessions are deleted this long after they end. */
      retentionSeconds: e.SESSION_RETENTION,
      secureCookie: publicUrl.protocol === 'https:',
      /** COOKIE_DOMAIN: the session cookie's Domain, or undefined for a host-only cookie. */
      cookieDomain: e.COOKIE_DOMAIN,
    },
    /** Second factors: REAUTH_MAX_AGE and MFA_REQUIRED_ROLES. */
    mfa: {
      reauthMaxAgeSeconds: e.REAUTH_MAX_AGE,
      requiredRoles: e.MFA_REQUIRED_ROLES.split(',')
        .map((role) => role.trim())
        .filter((role) => role !== '' && role !== 'none'),
    },
    tokens: {
      verifyEmailTtlSeconds: e.VERIFY_TOKEN_TTL,
      resetPasswordTtlSeconds: e.RESET_TOKEN_TTL,
    },
    bodyLimit: e.BODY_LIMIT,
    /** REQUEST_TIMEOUT and HEADERS_TIMEOUT: receiving a request, then its headers, in ms. */
    timeouts: {
      requestMs: Math.round(e.REQUEST_TIMEOUT * 1000),
      headersMs: Math.round(e.HEADERS_TIMEOUT * 1000),
      /** SHUTDOWN_DELAY: serving on, marked not ready, before closing. */
      shutdownDelayMs: Math.round(e.SHUTDOWN_DELAY * 1000),
    },
    /** The web pages: built assets and branding. */
    web: {
      distDir: e.WEB_DIST_DIR ? resolve(e.WEB_DIST_DIR) : undefined,
      brand: {
        name: e.BRAND_NAME ?? e.SERVICE_NAME,
        primaryColor: e.BRAND_PRIMARY_COLOR,
        logoUrl: e.BRAND_LOGO_URL,
      },
    },
    /** Rate limits, the login throttle, Redis and the session cache (abuse.ts). */
    abuse: abuseConfig(e),
    /** Bootstrap admin, audit and mail retention, metrics (admin.ts). */
    admin: adminConfig(e, problems),
    /** Webhook delivery (webhooks.ts). */
    webhooks: webhooksConfig(e),
    /** Access JWTs and refresh tokens (token mode). */
    jwt: {
      issuer: publicUrl.href.replace(/\/$/, ''),
      audience: e.ACCESS_TOKEN_AUDIENCE ?? publicUrl.href.replace(/\/$/, ''),
      accessTtlSeconds: e.ACCESS_TOKEN_TTL,
      reuseGraceSeconds: e.REFRESH_REUSE_GRACE_SECONDS,
      /** Undefined: generated once into DATA_DIR (see key-file.ts). */
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
