import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import client from 'prom-client';
import { safeEqual } from '../../core/tokens.js';
import { sendProblem } from '../problem.js';

export interface MetricsOptions {
  /** When set, GET /metrics needs `Authorization: Bearer <token>` (METRICS_TOKEN). */
  token: string | undefined;
  hasher: { stats: { active: number; queued: number } };
  sessionCache: {
    stats: { hits: number; misses: number; bypassed: number; invalidations: number };
    size: number;
  };
  /** Outbox rows by status (pending, sent, failed). */
  mailStatus: () => Promise<Record<string, number>>;
  pool?: (() => { total: number; idle: number; waiting: number }) | undefined;
  /** Receives the hash-time observer (PasswordHasher.observe). */
  onHashObserver?: (observe: (seconds: number) => void) => void;
  /** Pending webhook deliveries and the creation time of the oldest. */
  webhookBacklog?: () => Promise<{ pending: number; oldestPendingAt: Date | null }>;
  /** Receives the observer of webhook attempt outcomes (WebhookWorker.onOutcome). */
  onWebhookOutcome?: (observe: (outcome: 'delivered' | 'retrying' | 'failed') => void) => void;
  /** The retention purge's running totals (RetentionWorker.stats). */
  retention?: {
    stats: { deleted: Record<string, number>; failures: number; lastSuccessMs: number | null };
  };
}

const SIGN_IN_ROUTES = new Map([
  ['/auth/login', 'cookie'],
  ['/auth/token', 'token'],
]);

/** The second steps and the passkey sign-in, by the way they finish. */
const SECOND_STEP_ROUTES = new Map([
  ['/auth/mfa/verify', 'cookie'],
  ['/auth/token/mfa', 'token'],
  ['/auth/passkeys/login', 'passkey'],
]);

function loginOutcome(status: number): string {
  if (status === 200) return 'ok';
  if (status === 401) return 'failed';
  if (status === 429) return 'throttled';
  if (status === 503) return 'busy';
  if (status === 403) return 'refused';
  return 'error';
}

/** A counter that mirrors a running total kept elsewhere (the session cache's stats). */
function mirroredCounter(
  registry: client.Registry,
  name: string,
  help: string,
  read: () => number,
) {
  return new client.Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/**
 * Prometheus metrics at GET /metrics: requests and latency by route and status,
 * sign-ins by outcome, 429s, the password-hash queue and hash time, the mail outbox, the
 * session cache, the database pool, and Node's process metrics. One registry per app, so
 * several apps in one process (tests) never share counters.
 */
export const metricsPlugin = fp(
  async (app: FastifyInstance, opts: MetricsOptions) => {
    const registry = new client.Registry();
    client.collectDefaultMetrics({ register: registry });

    const requests = new client.Counter({
      name: 'latchkey_http_requests_total',
      help: 'HTTP requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    });
    const duration = new client.Histogram({
      name: 'latchkey_http_request_duration_seconds',
      help: 'HTTP request latency by method, route pattern and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
    const logins = new client.Counter({
      name: 'latchkey_logins_total',
      help: 'Sign-in attempts (POST /auth/login, /auth/token) by method and outcome',
      labelNames: ['method', 'outcome'] as const,
      registers: [registry],
    });
    const limited = new client.Counter({
      name: 'latchkey_rate_limited_total',
      help: 'Requests answered 429 (rate limits and the login throttle) by route',
      labelNames: ['route'] as const,
      registers: [registry],
    });
    for (const name of SIGN_IN_ROUTES.values()) {
      for (const outcome of ['ok', 'failed', 'throttled']) logins.inc({ method: name, outcome }, 0);
    }
    const secondSteps = new client.Counter({
      name: 'latchkey_second_steps_total',
      help: 'Second steps (POST /auth/mfa/verify, /auth/token/mfa) and passkey sign-ins (POST /auth/passkeys/login) by method and outcome',
      labelNames: ['method', 'outcome'] as const,
      registers: [registry],
    });
    for (const name of SECOND_STEP_ROUTES.values()) {
      for (const outcome of ['ok', 'failed', 'throttled']) {
        secondSteps.inc({ method: name, outcome }, 0);
      }
    }

    const hashTime = new client.Histogram({
      name: 'latchkey_password_hash_seconds',
      help: 'Time of one password hash or verification, once it has a slot',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2],
      registers: [registry],
    });
    opts.onHashObserver?.((seconds) => hashTime.observe(seconds));
    new client.Gauge({
      name: 'latchkey_password_hash_queue_depth',
      help: 'Password hashes waiting for a slot',
      registers: [registry],
      collect() {
        this.set(opts.hasher.stats.queued);
      },
    });
    new client.Gauge({
      name: 'latchkey_password_hash_active',
      help: 'Password hashes being computed',
      registers: [registry],
      collect() {
        this.set(opts.hasher.stats.active);
      },
    });

    new client.Gauge({
      name: 'latchkey_mail_outbox',
      help: 'Mail outbox rows by status (pending is the queue depth; failed were given up)',
      labelNames: ['status'] as const,
      registers: [registry],
      async collect() {
        try {
          const counts = await opts.mailStatus();
          for (const status of ['pending', 'sent', 'failed']) {
            this.set({ status }, counts[status] ?? 0);
          }
        } catch {
          // The database is down: /readyz says so; the scrape still answers.
        }
      },
    });

    const webhookAttempts = new client.Counter({
      name: 'latchkey_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome (delivered; retrying: failed, will retry; failed: given up)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    });
    for (const outcome of ['delivered', 'retrying', 'failed']) webhookAttempts.inc({ outcome }, 0);
    opts.onWebhookOutcome?.((outcome) => webhookAttempts.inc({ outcome }));
    const backlog = opts.webhookBacklog;
    if (backlog) {
      // One query serves both gauges of a scrape.
      let reading:
        Promise<{ pending: number; oldestPendingAt: Date | null } | undefined> | undefined;
      const read = () => {
        reading ??= backlog()
          .catch(() => undefined) // the database is down: /readyz says so
          .finally(() => setImmediate(() => (reading = undefined)));
        return reading;
      };
      new client.Gauge({
        name: 'latchkey_webhook_backlog',
        help: 'Webhook deliveries waiting to be delivered (due or backing off)',
        registers: [registry],
        async collect() {
          const stats = await read();
          if (stats) this.set(stats.pending);
        },
      });
      new client.Gauge({
        name: 'latchkey_webhook_oldest_pending_seconds',
        help: 'Age of the oldest pending webhook delivery (0 when none)',
        registers: [registry],
        async collect() {
          const stats = await read();
          if (!stats) return;
          const age = stats.oldestPendingAt
            ? (Date.now() - stats.oldestPendingAt.getTime()) / 1000
            : 0;
          this.set(Math.max(0, age));
        },
      });
    }

    const retention = opts.retention;
    if (retention) {
      new client.Counter({
        name: 'latchkey_retention_deleted_rows_total',
        help: 'Rows deleted by the retention purge, by table',
        labelNames: ['table'] as const,
        registers: [registry],
        collect() {
          this.reset();
          for (const [table, rows] of Object.entries(retention.stats.deleted)) {
            this.inc({ table }, rows);
          }
        },
      });
      mirroredCounter(
        registry,
        'latchkey_retention_failures_total',
        'Retention purges that failed (the log says why)',
        () => retention.stats.failures,
      );
      new client.Gauge({
        name: 'latchkey_retention_last_success_timestamp_seconds',
        help: 'When the last retention purge finished without an error (0: none yet)',
        registers: [registry],
        collect() {
          this.set((retention.stats.lastSuccessMs ?? 0) / 1000);
        },
      });
    }

    const cache = opts.sessionCache;
    mirroredCounter(
      registry,
      'latchkey_session_cache_hits_total',
      'Sessions answered from memory',
      () => cache.stats.hits,
    );
    mirroredCounter(
      registry,
      'latchkey_session_cache_misses_total',
      'Sessions read from the database',
      () => cache.stats.misses,
    );
    mirroredCounter(
      registry,
      'latchkey_session_cache_bypassed_total',
      'Lookups that skipped the cache (invalidation channel down, or TTL 0)',
      () => cache.stats.bypassed,
    );
    mirroredCounter(
      registry,
      'latchkey_session_cache_invalidations_total',
      'Revocations that evicted cached sessions',
      () => cache.stats.invalidations,
    );
    new client.Gauge({
      name: 'latchkey_session_cache_entries',
      help: 'Sessions held in memory',
      registers: [registry],
      collect() {
        this.set(cache.size);
      },
    });

    const pool = opts.pool;
    if (pool) {
      new client.Gauge({
        name: 'latchkey_db_pool_connections',
        help: 'Database pool connections by state (total, idle) and queued requests (waiting)',
        labelNames: ['state'] as const,
        registers: [registry],
        collect() {
          const stats = pool();
          this.set({ state: 'total' }, stats.total);
          this.set({ state: 'idle' }, stats.idle);
          this.set({ state: 'waiting' }, stats.waiting);
        },
      });
    }

    // prom-client hashes the label set on every inc/observe; the children of a label set are
    // kept instead (bounded: route patterns × methods × statuses).
    const children = new Map<
      string,
      { requests: client.Counter.Internal; duration: client.Histogram.Internal<string> }
    >();
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const status = reply.statusCode;
      const key = `${request.method} ${status} ${route}`;
      let child = children.get(key);
      if (!child) {
        const labels = { method: request.method, route, status: String(status) };
        child = { requests: requests.labels(labels), duration: duration.labels(labels) };
        children.set(key, child);
      }
      child.requests.inc();
      child.duration.observe(reply.elapsedTime / 1000);
      if (status === 429) limited.inc({ route });
      const signIn = request.method === 'POST' ? SIGN_IN_ROUTES.get(route) : undefined;
      if (signIn) logins.inc({ method: signIn, outcome: loginOutcome(status) });
      const secondStep = request.method === 'POST' ? SECOND_STEP_ROUTES.get(route) : undefined;
      if (secondStep) secondSteps.inc({ method: secondStep, outcome: loginOutcome(status) });
      done();
    });

    app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
      if (opts.token) {
        const header = request.headers.authorization ?? '';
        const given = /^bearer\s+(.+)$/i.exec(header)?.[1]?.trim() ?? '';
        if (!safeEqual(given, opts.token)) {
          reply.header('www-authenticate', 'Bearer realm="metrics"');
          return sendProblem(request, reply, 401, 'unauthenticated', 'Send the METRICS_TOKEN.');
        }
      }
      const body = await registry.metrics();
      return reply.type(registry.contentType).serializer(String).send(body);
    });
  },
  { name: 'latchkey-metrics' },
);
