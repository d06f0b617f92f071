import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The web pages (packages/web): the built single-page app at `/`. Every page path
 * answers the same index.html, with the branding and the password policy injected as a JSON
 * data block (not a script: the CSP allows no inline script); the hashed bundles under
 * `/assets/` are cached for good. An unknown address a browser navigates to gets the pages'
 * "not found" with a 404 (`wantsPage`); other misses keep their problem+json 404.
 */

/** The client-side routes; the mailed links use /verify-email and /reset-password. */
export const WEB_PAGES = [
  '/',
  '/login',
  '/two-step',
  '/register',
  '/check-email',
  '/verify-email',
  '/resend-verification',
  '/forgot-password',
  '/reset-password',
  '/account',
  '/admin',
] as const;

export interface WebRoutesOptions {
  /** The server package's web/ (where the pages' build writes) unless WEB_DIST_DIR says otherwise. */
  distDir: string | undefined;
  brand: { name: string; primaryColor: string; logoUrl: string | undefined };
  serviceName: string;
  password: { minLength: number; minScore: number };
  requireEmailVerification: boolean;
}

/** What the pages read at start (`window` has no other way to learn it without a rebuild). */
export function webConfig(opts: WebRoutesOptions) {
  return {
    brand: {
      name: opts.brand.name,
      primaryColor: opts.brand.primaryColor,
      logoUrl: opts.brand.logoUrl ?? null,
    },
    serviceName: opts.serviceName,
    password: {
      minLength: opts.password.minLength,
      minScore: opts.password.minScore,
      maxLength: 256,
    },
    requireEmailVerification: opts.requireEmailVerification,
  };
}

const defaultDistDir = fileURLToPath(new URL('../../../web', import.meta.url));
const commonPasswordsFile = fileURLToPath(
  new URL('../../../assets/common-passwords.txt', import.meta.url),
);

/** JSON safe inside <script type="application/json">: no "</script>", no "<!--". */
function jsonForHtml(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026');
}

function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** index.html with the configuration as a JSON data block and the brand colour and name. */
export function injectConfig(html: string, config: ReturnType<typeof webConfig>): string {
  const head =
    `<script type="application/json" id="latchkey-config">${jsonForHtml(config)}</script>` +
    // The colour is validated (#rgb / #rrggbb) by the configuration schema.
    `<style>:root{--brand:${config.brand.primaryColor}}</style>`;
  return html
    .replace('<!--latchkey-config-->', head)
    .replace(/<title>[^<]*<\/title>/, `<title>${escapeHtml(config.brand.name)}</title>`);
}

/**
 * The first path segments of the API and the other machine endpoints: an unknown path under
 * them stays a problem+json 404 even for a browser (`/admin` itself is a page, `/admin/…` the API).
 */
const NOT_PAGES = [
  '/auth',
  '/admin/',
  '/.well-known',
  '/dev',
  '/docs',
  '/metrics',
  '/healthz',
  '/readyz',
  '/openapi.json',
  '/assets',
  '/config.json',
  '/common-passwords.txt',
];

/** The highest q the Accept header gives any of `types` (0 when none is listed). */
function quality(accept: string, types: string[]): number {
  let best = 0;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    if (!types.includes(type)) continue;
    const q = params.find((p) => p.startsWith('q='));
    best = Math.max(best, q ? Number(q.slice(2)) || 0 : 1);
  }
  return best;
}

/**
 * A browser navigating to an address that matches nothing: GET/HEAD, HTML preferred over JSON
 * in Accept, outside the API. It gets the pages' own "not found" instead of a JSON document;
 * API clients (which do not ask for HTML first) keep the problem+json 404.
 */
export function wantsPage(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const path = request.url.split('?')[0] ?? '';
  if (NOT_PAGES.some((p) => path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`))) {
    return false;
  }
  const accept = request.headers.accept ?? '';
  const html = quality(accept, ['text/html', 'application/xhtml+xml']);
  return html > 0 && html >= quality(accept, ['application/json', 'application/problem+json']);
}

export interface WebPages {
  config: ReturnType<typeof webConfig>;
  distDir: string;
  /** index.html with the configuration, with `status` (404 for an address that is no page). */
  send(request: FastifyRequest, reply: FastifyReply, status?: number): FastifyReply;
}

/** Reads the built index.html once and injects the configuration. */
export function webPages(opts: WebRoutesOptions, pageHeaders: PageHeaders): WebPages {
  const distDir = opts.distDir ?? defaultDistDir;
  const config = webConfig(opts);
  const file = join(distDir, 'index.html');
  const page = existsSync(file) ? injectConfig(readFileSync(file, 'utf8'), config) : undefined;
  return {
    config,
    distDir,
    send(request, reply, status = 200) {
      // The not-found handler runs outside the pages' scope: give it the pages' headers too.
      if (status !== 200) pageHeaders(request, reply, () => undefined);
      reply.header('cache-control', 'no-store').type('text/html; charset=utf-8');
      if (page) return reply.status(status).send(page);
      return reply
        .status(503)
        .send(
          '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Not built</title></head>' +
            '<body><h1>The web pages are not built yet</h1>' +
            '<p>Run <code>npm run build</code> (or <code>npm start</code>, which builds them).</p></body></html>',
        );
    },
  };
}

type PageHeaders = FastifyInstance['pageHeaders'];

export async function webRoutes(app: FastifyInstance, opts: { pages: WebPages }): Promise<void> {
  const { pages } = opts;
  const { config, distDir } = pages;
  const hidden = { schema: { hide: true } };

  app.addHook('onRequest', app.pageHeaders);

  for (const path of WEB_PAGES) {
    app.get(path, hidden, async (request, reply) => pages.send(request, reply));
  }

  app.get('/config.json', hidden, async (_request, reply) => {
    reply.header('cache-control', 'no-cache');
    return config;
  });

  // The server's own list, so the form refuses exactly what the server refuses.
  let common: string | undefined;
  app.get('/common-passwords.txt', hidden, async (_request, reply) => {
    common ??= readFileSync(commonPasswordsFile, 'utf8');
    return reply
      .header('cache-control', 'public, max-age=86400')
      .type('text/plain; charset=utf-8')
      .send(common);
  });

  const assets = join(distDir, 'assets');
  if (existsSync(assets)) {
    await app.register(fastifyStatic, {
      root: assets,
      prefix: '/assets/',
      index: false,
      // File names carry a content hash.
      immutable: true,
      maxAge: '365d',
      schemaHide: true,
    });
  }
}
