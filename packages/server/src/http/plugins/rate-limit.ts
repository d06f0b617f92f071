import rateLimit, {
  type FastifyRateLimitStore,
  type RateLimitPluginOptions as PluginOptions,
} from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { AbuseConfig, RateRule } from '../../config-abuse.js';
import type { Clock } from '../../core/clock.js';
import {
  type AccountRateLimiter,
  FAIL_CLOSED_RULES,
  type WindowStore,
} from '../../core/rate-limits.js';
import { rateLimited } from '../../core/throttle.js';

/**
 * The protected requests: their rule, the body field that names the account, and whether a
 * device cookie of that account moves the request to the device's own window.
 */
export const PROTECTED_ROUTES: {
  url: string;
  rule: RateRule;
  accountField?: 'email' | 'newEmail';
  deviceCookie?: true;
}[] = [
  { url: '/auth/login', rule: 'signin', accountField: 'email', deviceCookie: true },
  { url: '/auth/token', rule: 'signin', accountField: 'email' },
  { url: '/auth/register', rule: 'register', accountField: 'email' },
  { url: '/auth/verify-email', rule: 'verify' },
  { url: '/auth/resend-verification', rule: 'resend', accountField: 'email' },
  { url: '/auth/forgot-password', rule: 'forgot', accountField: 'email' },
  { url: '/auth/reset-password', rule: 'reset' },
  { url: '/auth/change-email', rule: 'change_email', accountField: 'newEmail' },
];

export interface RateLimitPluginOptions {
  abuse: AbuseConfig;
  trustProxy: boolean | number | string[];
  store: WindowStore;
  accountLimits: AccountRateLimiter;
  clock: Clock;
  /** The trusted device of `email` that the request's device cookie names, if any. */
  trustedDevice: (request: FastifyRequest, email: string) => string | null;
}

const FORWARDING_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'];

/**
 * Per-IP limits (@fastify/rate-limit over our shared store, so every instance counts in one
 * window), per-account limits (core's AccountRateLimiter, keyed by the email in the body), and
 * the once-only warning about forwarding headers that TRUST_PROXY does not trust. Must be
 * registered before the routes it protects.
 */
export const rateLimitPlugin = fp(
  async (app: FastifyInstance, opts: RateLimitPluginOptions) => {
    let warnedUntrusted = false;
    if (opts.trustProxy === false) {
      app.addHook('onRequest', async (request) => {
        if (warnedUntrusted) return;
        const header = FORWARDING_HEADERS.find((name) => request.headers[name] !== undefined);
        if (!header) return;
        warnedUntrusted = true;
        request.log.warn(
          { header, socketAddress: request.socket.remoteAddress },
          `A request arrived with a ${header} header, but TRUST_PROXY is off: the client IP is the socket address (${request.ip}). If Latchkey runs behind a proxy or load balancer, set TRUST_PROXY (hop count, proxy addresses/CIDRs, or true), or every user shares the proxy's rate-limit bucket. This warning is logged once.`,
        );
      });
    }
    if (!opts.abuse.rateLimitsEnabled) return;

    const byUrl = new Map(PROTECTED_ROUTES.map((r) => [r.url, r]));

    // Attach each protected route's per-IP limit before @fastify/rate-limit sees the route.
    app.addHook('onRoute', (route) => {
      const methods = [route.method].flat();
      const entry = byUrl.get(route.url);
      if (!entry || !methods.includes('POST')) return;
      const limit = opts.abuse.limits[entry.rule].ip;
      if (!limit) return;
      route.config = {
        ...route.config,
        rateLimit: { max: limit.max, timeWindow: limit.windowSeconds * 1000, groupId: entry.rule },
      };
    });

    const { store, clock } = opts;
    class SharedStore implements FastifyRateLimitStore {
      constructor(private readonly failClosed = false) {}
      incr(
        key: string,
        callback: (error: Error | null, result?: { current: number; ttl: number }) => void,
        timeWindow: number,
      ): void {
        const now = clock().getTime();
        store.hit(`ip:${key}`, timeWindow, now, { failClosed: this.failClosed }).then(
          (hit) => callback(null, { current: hit.count, ttl: Math.max(0, hit.resetAtMs - now) }),
          (error: Error) => callback(error),
        );
      }
      child(routeOptions: object): FastifyRateLimitStore {
        const groupId = (routeOptions as { groupId?: string }).groupId;
        return new SharedStore(FAIL_CLOSED_RULES.has(groupId as RateRule));
      }
    }

    await app.register(rateLimit, {
      global: false,
      store: SharedStore as unknown as PluginOptions['store'],
      skipOnError: false,
      hook: 'onRequest',
      // The same problem+json as every 429 (core's rate_limited): one body for everybody.
      errorResponseBuilder: (_request, context) => rateLimited(context.ttl),
    });

    app.addHook('preHandler', async (request: FastifyRequest) => {
      if (request.method !== 'POST') return;
      const entry = byUrl.get(request.routeOptions.url ?? '');
      if (!entry?.accountField) return;
      const value = (request.body as Record<string, unknown> | undefined)?.[entry.accountField];
      if (typeof value === 'string' && value.length > 0) {
        const device = entry.deviceCookie ? opts.trustedDevice(request, value) : null;
        await opts.accountLimits.consume(entry.rule, value, device);
      }
    });
  },
  { name: 'latchkey-rate-limit' },
);
