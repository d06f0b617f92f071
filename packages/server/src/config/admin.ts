import { z } from 'zod';
import { type Documented, documented } from './docs.js';
import { boolean, duration } from './values.js';

/**
 * The environment variables of the admin features (bootstrap admin, audit retention, metrics). Spread into
 * config.ts's one schema, so a bad value names its variable like every other.
 */

const retention = () => duration({ min: 3600 });

export const adminEnvShape = {
  BOOTSTRAP_ADMIN_EMAIL: documented(z.email('an email address').max(254).optional(), {
    group: 'admin',
    description:
      'With `BOOTSTRAP_ADMIN_PASSWORD`: at start, create this verified admin when no account has the `admin` role yet (never touches an existing account). Set both or neither.',
    example: 'admin@example.com',
  }),
  BOOTSTRAP_ADMIN_PASSWORD: documented(z.string().min(1).max(4096).optional(), {
    group: 'admin',
    description:
      'The bootstrap admin’s password: it must pass the password policy. Remove both variables once the admin exists.',
  }),
  AUDIT_RETENTION: documented(retention().prefault('365d'), {
    group: 'admin',
    description: 'Audit events older than this are purged in the background (at least `1h`).',
  }),
  MAIL_RETENTION: documented(retention().prefault('7d'), {
    group: 'admin',
    description: 'Sent and given-up outbox rows older than this are purged (at least `1h`).',
  }),
  METRICS_TOKEN: documented(z.string().min(16, 'a token of at least 16 characters').optional(), {
    group: 'admin',
    description:
      '16+ characters (`openssl rand -hex 16`): `GET /metrics` then needs `Authorization: Bearer <token>`. Required in production unless `METRICS_PUBLIC=true`.',
  }),
  // Production refuses an open /metrics unless this says it is meant to be.
  METRICS_PUBLIC: documented(boolean().prefault('false'), {
    group: 'admin',
    description:
      '`true`: serve `/metrics` without a token in production (only when nothing but your network reaches it).',
  }),
} satisfies Record<string, Documented>;

type AdminEnv = z.output<z.ZodObject<typeof adminEnvShape>>;

/** Bootstrap admin, audit and mail retention, metrics. */
export type AdminConfig = ReturnType<typeof adminConfig>;

export function adminConfig(e: AdminEnv, problems: string[]) {
  const email = e.BOOTSTRAP_ADMIN_EMAIL;
  const password = e.BOOTSTRAP_ADMIN_PASSWORD;
  if ((email === undefined) !== (password === undefined)) {
    problems.push('BOOTSTRAP_ADMIN_EMAIL and BOOTSTRAP_ADMIN_PASSWORD must be set together');
  }
  const bootstrapAdmin: { email: string; password: string } | undefined =
    email && password ? { email: email.trim(), password } : undefined;
  return {
    /** The first admin, created at start when no admin exists yet. */
    bootstrapAdmin,
    /** Audit events older than this are purged in the background. */
    auditRetentionSeconds: e.AUDIT_RETENTION,
    /** Sent and given-up outbox rows older than this are purged. */
    mailRetentionSeconds: e.MAIL_RETENTION,
    /** When set, GET /metrics needs `Authorization: Bearer <token>`. */
    metricsToken: e.METRICS_TOKEN,
  };
}
