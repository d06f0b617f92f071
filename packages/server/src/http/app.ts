import { randomUUID } from 'node:crypto';
import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Server, ServerResponse } from 'node:http';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyHttpOptions,
  type FastifyInstance,
  type FastifyServerOptions,
} from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { type Config, servesDevMailbox } from '../config/config.js';
import type { AccountService } from '../core/account.js';
import type { AuthService } from '../core/auth.js';
import type { Clock } from '../core/clock.js';
import type { DeviceCookies } from '../core/device-cookies.js';
import type { AccountRateLimiter } from '../core/rate-limits.js';
import type { WindowStore } from '../store/counter-rules.js';
import type { RefusedRequestAudit } from '../core/refused-requests.js';
import type { SigningKeyStore } from '../core/keys.js';
import type { TokenService } from '../core/tokens-service.js';
import type { MfaService } from '../core/mfa.js';
import { PENDING_TTL_SECONDS, type SecondStep } from '../core/second-step.js';
import { mfaRoutes } from './routes/mfa.js';
import type { DevMailbox } from '../mail/transport.js';
import { deviceCookieJar } from './device-cookie.js';
import { perIpLimits, rateLimitPlugin } from './plugins/rate-limit.js';
import { apiHelmetOptions, securityHeadersPlugin } from './plugins/security-headers.js';
import { sessionPlugin } from './plugins/session.js';
import { responseSerializerCompiler } from './serializer.js';
import { routeValidatorCompiler } from './validator.js';
import {
  clientErrorHandler,
  expectationFailed,
  frameworkErrorHandler,
  problemPlugin,
  refuseConnect,
  sendProblem,
} from './problem.js';
import { accountRoutes } from './routes/account.js';
import { activityRoutes, adminRoutes } from './routes/admin.js';
import { type MetricsOptions, metricsPlugin } from './plugins/metrics.js';
import type { AdminService } from '../core/admin.js';
import type { WebhookService } from '../core/webhooks.js';
import { webhookRoutes } from './routes/webhooks.js';
import { authRoutes } from './routes/auth.js';
import { devMailRoutes } from './routes/dev-mail.js';
import { healthRoutes } from './routes/health.js';
import { tokenRoutes } from './routes/tokens.js';
import { type WebPages, wantsPage, webPages, webRoutes } from './routes/web.js';

export interface AppDependencies {
  config: Config;
  auth: AuthService;
  /** The device cookies of sign-in (the same signer as the AuthService's). */
  deviceCookies: DeviceCookies;
  /** Token mode: access JWTs, refresh tokens and the JWKS. */
  tokens: { service: TokenService; keys: SigningKeyStore };
  account: AccountService;
  /** Second factors, recent authentication and the MFA policy. */
  mfa: MfaService;
  /** The second step of sign-in and the passkey sign-in. */
  secondStep: SecondStep;
  /** Readiness checks by name, e.g. { database: () => handle.ping() }. */
  readiness: Record<string, () => Promise<void>>;
  /** True once the instance is stopping (SHUTDOWN_DELAY): not ready, connections not kept. */
  draining?: () => boolean;
  /** The dev mailbox, served at /dev/mail outside production on a loopback HOST. */
  devMailbox?: DevMailbox | undefined;
  logger: FastifyBaseLogger;
  /** Per-IP and per-account limits; without it, no request limits. */
  abuse?: { counters: WindowStore; accountLimits: AccountRateLimiter; clock: Clock };
  /** Roles, users and the audit trail: /admin/*, /auth/activity. */
  admin?: AdminService;
  /** Webhook endpoints: /admin/webhooks* (with `admin`, which resolves permissions). */
  webhooks?: WebhookService;
  /** GET /metrics and the request metrics. */
  metrics?: MetricsOptions;
  /** Audits the 403s of CSRF, Origin and permission checks; without it they are not recorded. */
  refusals?: RefusedRequestAudit;
}

/** Builds the HTTP app; the server and the tests both use it. */
export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const { config } = deps;
  const options: FastifyHttpOptions<Server> = {
    loggerInstance: deps.logger,
    trustProxy: trustedProxies(config.trustProxy),
    bodyLimit: config.bodyLimit,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    return503OnClosing: true,
    // Requests refused before any route runs get problem+json too (problem.ts).
    clientErrorHandler,
    frameworkErrors: frameworkErrorHandler,
    // A client must send its whole request within these, or gets a 408 and the connection
    // closes; otherwise one trickling a byte at a time holds a connection for ever.
    requestTimeout: config.timeouts.requestMs,
    http: {
      requestTimeout: config.timeouts.requestMs,
      headersTimeout: config.timeouts.headersMs,
      // Node enforces both on this interval (30 s by default, as long as the timeouts).
      connectionsCheckingInterval: Math.min(1000, Math.ceil(config.timeouts.headersMs / 4)),
      // Node's own refusal of a missing Host has no body: the check is in problem.ts.
      requireHostHeader: false,
    },
  };
  const app = Fastify(options).withTypeProvider<ZodTypeProvider>();
  app.server.on('checkExpectation', expectationFailed);
  app.server.on('connect', refuseConnect);
  app.setValidatorCompiler(routeValidatorCompiler);
  app.setSerializerCompiler(responseSerializerCompiler);

  // JSON only: without this Fastify would also accept text/plain bodies.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    app.getDefaultJsonParser('error', 'error'),
  );

  const draining = deps.draining;
  if (draining) {
    // While stopping, a kept-alive connection would bring its client back to this instance;
    // closing each one after its answer makes the client (or proxy) reconnect to one that stays.
    // A listener on the server rather than a Fastify hook: it costs one call per request, not a
    // step (and a promise) in every reply's hook chain.
    app.server.prependListener('request', (_request: unknown, response: ServerResponse) => {
      if (draining()) response.setHeader('connection', 'close');
    });
  }
  await app.register(problemPlugin, { probeDatabase: deps.readiness.database });
  await app.register(cookie, { hook: false });
  // Without CORS_ORIGINS only same-origin pages call the API, and those need no CORS headers.
  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.corsOrigins,
      credentials: true,
      methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['content-type', 'x-csrf-token', 'authorization'],
      maxAge: 600,
    });
  }
  // helmet's headers, computed once at start: a short set for the API's JSON answers, the full
  // set with the pages' CSP for the documents (plugins/security-headers.ts).
  const hsts = config.session.secureCookie
    ? { maxAge: 31_536_000, includeSubDomains: true }
    : false;
  await app.register(securityHeadersPlugin, {
    api: apiHelmetOptions(hsts),
    pages: {
      hsts,
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'", "'unsafe-inline'"],
          // BRAND_LOGO_URL may live on another origin.
          imgSrc: ["'self'", 'data:', ...logoOrigin(config.web.brand.logoUrl)],
          connectSrc: ["'self'"],
          frameAncestors: ["'none'"],
          formAction: ["'self'"],
          upgradeInsecureRequests: config.session.secureCookie ? [] : null,
        },
      },
    },
  });

  const deviceCookie = deviceCookieJar({
    secure: config.session.secureCookie,
    parseCookie: (header) => app.parseCookie(header),
  });
  if (deps.abuse) {
    await app.register(rateLimitPlugin, {
      abuse: config.abuse,
      trustProxy: config.trustProxy,
      store: deps.abuse.counters,
      accountLimits: deps.abuse.accountLimits,
      clock: deps.abuse.clock,
      trustedDevice: (request, email) =>
        deps.deviceCookies.deviceFor(deviceCookie.read(request), email),
    });
  }

  const allowedOrigins = [config.publicUrl.origin, ...config.corsOrigins];
  await app.register(sessionPlugin, {
    auth: deps.auth,
    secureCookie: config.session.secureCookie,
    cookieDomain: config.session.cookieDomain,
    maxAgeSeconds: config.session.absoluteTimeoutSeconds,
    pendingMaxAgeSeconds: PENDING_TTL_SECONDS,
    allowedOrigins,
    bearer: deps.tokens.service,
    ...(deps.refusals ? { refusals: deps.refusals } : {}),
  });

  const pages = webPages(
    {
      ...config.web,
      serviceName: config.serviceName,
      // Only what the pages' strength meter mirrors, not the breach lookup's address.
      password: { minLength: config.password.minLength, minScore: config.password.minScore },
      requireEmailVerification: config.requireEmailVerification,
    },
    app.pageHeaders,
  );
  await registerNotFoundAndMethodNotAllowed(app, pages);
  if (deps.metrics) await app.register(metricsPlugin, deps.metrics);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: `${config.serviceName} API`,
        version: '0.1.0',
        description:
          'Email/password authentication. Errors are RFC 9457 problem details with a stable `code`.',
      },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: app.sessionCookie.name },
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(async (docs) => {
    docs.addHook('onRequest', app.pageHeaders);
    await docs.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes, { checks: deps.readiness, draining: deps.draining });
  // Each protected route declares its per-IP limit (and per-account one) in its own config.
  const perIpLimit = perIpLimits(config.abuse);
  await app.register(authRoutes, { auth: deps.auth, deviceCookie, perIpLimit });
  await app.register(tokenRoutes, {
    tokens: deps.tokens.service,
    keys: deps.tokens.keys,
    jwksMaxAgeSeconds: 300,
    perIpLimit,
  });
  await app.register(accountRoutes, { account: deps.account, perIpLimit });
  await app.register(mfaRoutes, {
    mfa: deps.mfa,
    secondStep: deps.secondStep,
    auth: deps.auth,
    tokens: deps.tokens.service,
    perIpLimit,
  });
  if (deps.admin) {
    await app.register(adminRoutes, { admin: deps.admin, mfa: deps.mfa });
    await app.register(activityRoutes, { admin: deps.admin });
    if (deps.webhooks) {
      await app.register(webhookRoutes, {
        admin: deps.admin,
        webhooks: deps.webhooks,
        mfa: deps.mfa,
      });
    }
  }
  // The React pages, including /verify-email and /reset-password of the mails.
  await app.register(webRoutes, { pages });
  if (deps.devMailbox && servesDevMailbox(config)) {
    await app.register(devMailRoutes, { mailbox: deps.devMailbox });
  }
  return app;
}

/**
 * Fastify answers 404 for a known path with the wrong method; we answer 405 with `Allow`, and
 * both as problem+json, except for a browser navigating to an address that is no page, which
 * gets the pages' own "not found" (still a 404).
 */
async function registerNotFoundAndMethodNotAllowed(app: FastifyInstance, pages: WebPages) {
  const routes: { pattern: RegExp; methods: Set<string> }[] = [];
  app.addHook('onRoute', (route) => {
    const source = route.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[^/]+/g, '[^/]+');
    const pattern = new RegExp(`^${source}/?$`);
    let entry = routes.find((r) => r.pattern.source === pattern.source);
    if (!entry) {
      entry = { pattern, methods: new Set() };
      routes.push(entry);
    }
    for (const method of [route.method].flat()) entry.methods.add(method);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = routes.find((r) => r.pattern.test(path))?.methods;
    if (allowed && !allowed.has(request.method)) {
      reply.header('allow', [...allowed].sort().join(', '));
      return sendProblem(
        request,
        reply,
        405,
        'method_not_allowed',
        `${request.method} is not allowed here; use ${[...allowed].sort().join(' or ')}.`,
      );
    }
    if (wantsPage(request)) return pages.send(request, reply, 404);
    // The path is not quoted: an answer must never reflect what the client sent.
    return sendProblem(request, reply, 404, 'not_found', 'Nothing here: check the path.');
  });
}

/**
 * TRUST_PROXY for Fastify. A hop count becomes "the nearest N hops are proxies": Fastify itself
 * trusts no hop for a bare number, so the client IP would stay the proxy's.
 */
function trustedProxies(setting: Config['trustProxy']): FastifyServerOptions['trustProxy'] {
  if (typeof setting !== 'number') return setting;
  return (_address: string, hop: number) => hop < setting;
}

function logoOrigin(logoUrl: string | undefined): string[] {
  return logoUrl && /^https?:/.test(logoUrl) ? [new URL(logoUrl).origin] : [];
}
