import type { z } from 'zod';
import { type Documented, documented } from './docs.js';
import { boolean, duration } from './values.js';

/**
 * The environment variables of webhook delivery. Spread into config.ts's one schema, so a bad
 * value names its variable like every other.
 */
export const webhooksEnvShape = {
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: documented(boolean().prefault('false'), {
    group: 'webhooks',
    description:
      '`true`: allow endpoints on loopback, private, link-local and cloud-metadata addresses (a receiver on the same host or network). Off, they are refused when the endpoint is saved and, on the address the name resolves to, at every delivery.',
  }),
  WEBHOOK_TIMEOUT: documented(duration({ max: 60 }).prefault('10s'), {
    group: 'webhooks',
    description:
      'The longest one delivery attempt may take, connection included (at most `60s`); a slower receiver counts as a failure and is retried.',
  }),
  WEBHOOK_RETRY_PERIOD: documented(duration({ min: 60 }).prefault('24h'), {
    group: 'webhooks',
    description:
      'How long a failing delivery is retried, with growing delays and jitter, before it is marked failed.',
  }),
  WEBHOOK_DISABLE_AFTER: documented(duration({ min: 3600 }).prefault('5d'), {
    group: 'webhooks',
    description:
      'An endpoint whose every attempt failed for this long is disabled, with the reason shown to admins; enabling it again resumes delivery.',
  }),
  WEBHOOK_RETENTION: documented(duration({ min: 3600 }).prefault('7d'), {
    group: 'webhooks',
    description: 'Events whose deliveries are all finished are purged after this (at least `1h`).',
  }),
} satisfies Record<string, Documented>;

type WebhooksEnv = z.output<z.ZodObject<typeof webhooksEnvShape>>;

export type WebhooksConfig = ReturnType<typeof webhooksConfig>;

export function webhooksConfig(e: WebhooksEnv) {
  return {
    allowPrivateNetworks: e.WEBHOOK_ALLOW_PRIVATE_NETWORKS,
    timeoutMs: Math.round(e.WEBHOOK_TIMEOUT * 1000),
    retryPeriodSeconds: e.WEBHOOK_RETRY_PERIOD,
    disableAfterSeconds: e.WEBHOOK_DISABLE_AFTER,
    retentionSeconds: e.WEBHOOK_RETENTION,
  };
}
