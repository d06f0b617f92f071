import { z } from 'zod';
import { duration as durationOf } from './values.js';

/**
 * The environment variables of the admin features (bootstrap admin, audit retention, metrics). Spread into
 * config.ts's one schema, so a bad value names its variable like every other.
 */

const duration = durationOf({ min: 3600, hint: '3600, 12h, 7d or 365d' });

export const adminEnvShape = {
  BOOTSTRAP_ADMIN_EMAIL: z.email('an email address').max(254).optional(),
  BOOTSTRAP_ADMIN_PASSWORD: z.string().min(1).max(4096).optional(),
  AUDIT_RETENTION: duration.prefault('365d'),
  MAIL_RETENTION: duration.prefault('7d'),
  METRICS_TOKEN: z.string().min(16, 'a token of at least 16 characters').optional(),
  // Production refuses an open /metrics unless this says it is meant to be.
  METRICS_PUBLIC: z
    .enum(['true', 'false'], 'true or false')
    .transform((value) => value === 'true')
    .default(false),
};

const _adminEnv = z.object(adminEnvShape);
type AdminEnv = z.output<typeof _adminEnv>;

export interface AdminConfig {
  /** The first admin, created at start when no admin exists yet. */
  bootstrapAdmin: { email: string; password: string } | undefined;
  /** Audit events older than this are purged in the background. */
  auditRetentionSeconds: number;
  /** Sent and given-up outbox rows older than this are purged. */
  mailRetentionSeconds: number;
  /** When set, GET /metrics needs `Authorization: Bearer <token>`. */
  metricsToken: string | undefined;
}

export function adminConfig(e: AdminEnv, problems: string[]): AdminConfig {
  const email = e.BOOTSTRAP_ADMIN_EMAIL;
  const password = e.BOOTSTRAP_ADMIN_PASSWORD;
  if ((email === undefined) !== (password === undefined)) {
    problems.push('BOOTSTRAP_ADMIN_EMAIL and BOOTSTRAP_ADMIN_PASSWORD must be set together');
  }
  return {
    bootstrapAdmin: email && password ? { email: email.trim(), password } : undefined,
    auditRetentionSeconds: e.AUDIT_RETENTION,
    mailRetentionSeconds: e.MAIL_RETENTION,
    metricsToken: e.METRICS_TOKEN,
  };
}
