import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type HookHandlerDoneFunction,
} from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * onRequest hook for routes that serve documents to a browser (the web pages, /docs): the
     * full helmet set instead of the API's, and no default Cache-Control.
     */
    pageHeaders: (
      request: FastifyRequest,
      reply: FastifyReply,
      done: HookHandlerDoneFunction,
    ) => void;
  }
}

/**
 * The headers @fastify/helmet would set with `options`, computed once at start.
 *
 * @fastify/helmet runs `helmet(options)` on every request, which parses and serialises the
 * Content-Security-Policy each time (about 7% of the CPU of GET /auth/me; docs/performance.md).
 * The headers only depend on the options, so this asks @fastify/helmet itself once, on a
 * throwaway instance, and sets the same headers from then on. Per-route `helmet` options,
 * `reply.helmet()` and CSP nonces are not supported (Latchkey uses none of them).
 */
export async function helmetHeaders(
  options: FastifyHelmetOptions,
): Promise<Record<string, string>> {
  const answer = async (withHelmet: boolean) => {
    const probe = Fastify({ logger: false });
    if (withHelmet) await probe.register(helmet, options);
    probe.get('/', async () => '');
    const res = await probe.inject({ method: 'GET', url: '/' });
    await probe.close();
    return res.headers;
  };
  const plain = await answer(false);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(await answer(true))) {
    if (value !== undefined && plain[name] === undefined) headers[name] = String(value);
  }
  return headers;
}

/**
 * helmet's options for JSON answers, after OWASP's REST Security Cheat Sheet: a CSP that loads
 * nothing and allows no framing, nosniff, DENY framing, no referrer, same-origin reads only, and
 * HSTS over https. The headers that only mean something for an HTML document (COOP,
 * Origin-Agent-Cluster, X-DNS-Prefetch-Control, X-Download-Options, X-XSS-Protection, the Flash
 * policy) are left to the pages: each header costs the same on every API answer (about 1 µs
 * apiece on GET /auth/me; docs/performance.md).
 */
export function apiHelmetOptions(hsts: FastifyHelmetOptions['hsts']): FastifyHelmetOptions {
  return {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    },
    crossOriginOpenerPolicy: false,
    crossOriginResourcePolicy: { policy: 'same-origin' },
    originAgentCluster: false,
    referrerPolicy: { policy: 'no-referrer' },
    hsts,
    xContentTypeOptions: true,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xFrameOptions: { action: 'deny' },
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false,
  };
}

export interface SecurityHeadersOptions {
  /** helmet options for every answer (apiHelmetOptions). */
  api: FastifyHelmetOptions;
  /** helmet options for the documents of `pageHeaders` (the pages' CSP and the rest). */
  pages: FastifyHelmetOptions;
}

/**
 * Every answer gets the API headers and `Cache-Control: no-store` (answers of the API are
 * personal: no shared or browser cache may keep them; a route that says otherwise, such as the
 * public JWKS, sets its own). Scopes serving pages add `app.pageHeaders` as an onRequest hook.
 */
export const securityHeadersPlugin = fp(
  async (app: FastifyInstance, options: SecurityHeadersOptions) => {
    const api = { ...(await helmetHeaders(options.api)), 'cache-control': 'no-store' };
    const pages = await helmetHeaders(options.pages);
    // Headers of the API set the pages' set has no value for.
    const apiOnly = Object.keys(api).filter((name) => !(name in pages));
    app.addHook('onRequest', (_request, reply, done) => {
      reply.headers(api);
      done();
    });
    app.decorate('pageHeaders', (_request, reply, done) => {
      for (const name of apiOnly) reply.removeHeader(name);
      reply.headers(pages);
      done();
    });
  },
  { name: 'latchkey-security-headers' },
);
