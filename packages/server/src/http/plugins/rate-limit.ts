import rateLimit, {
  type FastifyRateLimitStore,
  type RateLimitOptions,
  type RateLimitPluginOptions as PluginOptions,
} from '@fastify/rate-limit';
import { isIPv4, isIPv6 } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { AbuseConfig } from '../../config/abuse.js';
import type { Clock } from '../../core/clock.js';
import {
  type AccountRateLimiter,
  FAIL_CLOSED_RULES,
  type RateRule,
} from '../../core/rate-limits.js';
import type { WindowStore } from '../../store/counter-rules.js';
import { rateLimited } from '../../core/throttle.js';

/**
 * A route's per-account limit: its rule, the body field that names the account, and whether a
 * device cookie of that account moves the request to the device's own window.
 */
export interface AccountLimit {
  rule: RateRule;
  field: 'email';
  deviceCookie?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Counted per account (the body's `field`) before the handler runs; see `AccountLimit`. */
    accountLimit?: AccountLimit;
  }
}

/**
 * The per-IP limits routes declare as `config.rateLimit`: a rule's configured limit, or `false`
 * when it is off (RATE_LIMITS=off, or `off` for that rule). `groupId` is the rule, so routes of
 * one rule (login and token) share a bucket, and the store knows which rules fail closed.
 */
export function perIpLimits(abuse: AbuseConfig) {
  return (rule: RateRule): RateLimitOptions | false => {
    const limit = abuse.rateLimitsEnabled ? abuse.limits[rule].ip : null;
    if (!limit) return false;
    return { max: limit.max, timeWindow: limit.windowSeconds * 1000, groupId: rule };
  };
}

/** What the route plugins get to declare their per-IP limit. */
export type PerIpLimit = ReturnType<typeof perIpLimits>;

export interface RateLimitPluginOptions {
  abuse: AbuseConfig;
  trustProxy: false | number | string[];
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
 * the once-only warning about forwarding headers that TRUST_PROXY does not trust. Each route
 * declares its own limits in its `config` (`rateLimit` from `perIpLimits`, `accountLimit`); a
 * route that declares none is not limited. Must be registered before the routes it protects.
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
          `A request arrived with a ${header} header, but TRUST_PROXY is off: the client IP is the socket address (${request.ip}). If Latchkey runs behind a proxy or load balancer, set TRUST_PROXY (a hop count, or the proxies' addresses/CIDRs), or every user shares the proxy's rate-limit bucket. This warning is logged once.`,
        );
      });
    }
    if (!opts.abuse.rateLimitsEnabled) return;

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
      keyGenerator: (request) => rateLimitKey(request.ip),
      // The same problem+json as every 429 (core's rate_limited): one body for everybody.
      errorResponseBuilder: (_request, context) => rateLimited(context.ttl),
    });

    app.addHook('preHandler', async (request: FastifyRequest) => {
      const limit = request.routeOptions.config?.accountLimit;
      if (!limit) return;
      const value = (request.body as Record<string, unknown> | undefined)?.[limit.field];
      if (typeof value === 'string' && value.length > 0) {
        const device = limit.deviceCookie ? opts.trustedDevice(request, value) : null;
        await opts.accountLimits.consume(limit.rule, value, device);
      }
    });
  },
  { name: 'latchkey-rate-limit' },
);

/**
 * The per-IP bucket of a client address: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its /64,
 * since one subscriber or host usually holds a whole /64 and could otherwise rotate through it.
 */
export function rateLimitKey(ip: string): string {
  const address = ip.replace(/%.*$/, '');
  if (isIPv4(address) || !isIPv6(address)) return address;
  const hextets = expandIPv6(address);
  if (hextets.slice(0, 5).every((h) => h === 0) && hextets[5] === 0xffff) {
    const [high = 0, low = 0] = hextets.slice(6);
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
  }
  return `${hextets
    .slice(0, 4)
    .map((h) => h.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (with `::` and a dotted IPv4 tail). */
function expandIPv6(address: string): number[] {
  let text = address;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const groups = (part: string) => (part ? part.split(':').map((h) => parseInt(h, 16)) : []);
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}
