import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * The web pages (packages/web): the built single-page app at `/`. Every page path
 * answers the same index.html, with the branding and the password policy injected as a JSON
 * data block (not a script: the CSP allows no inline script); the hashed bundles under
 * `/assets/` are cached for good. Paths that are not pages keep their problem+json 404.
 */

/** The client-side routes; the mailed links use /verify-email and /reset-password. */
export const WEB_PAGES = [
  '/',
  '/login',
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
  /** packages/web/dist unless WEB_DIST_DIR says otherwise. */
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

const defaultDistDir = fileURLToPath(new URL('../../../../web/dist', import.meta.url));
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

export async function webRoutes(app: FastifyInstance, opts: WebRoutesOptions): Promise<void> {
  const distDir = opts.distDir ?? defaultDistDir;
  const config = webConfig(opts);
  const hidden = { schema: { hide: true } };
  const file = join(distDir, 'index.html');
  const page = existsSync(file) ? injectConfig(readFileSync(file, 'utf8'), config) : undefined;

  app.addHook('onRequest', app.pageHeaders);

  const sendPage = (reply: FastifyReply) => {
    reply.header('cache-control', 'no-store').type('text/html; charset=utf-8');
    if (page) return reply.send(page);
    return reply
      .status(503)
      .send(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Not built</title></head>' +
          '<body><h1>The web pages are not built yet</h1>' +
          '<p>Run <code>npm run build</code> (or <code>npm start</code>, which builds them).</p></body></html>',
      );
  };

  for (const path of WEB_PAGES) {
    app.get(path, hidden, async (_request, reply) => sendPage(reply));
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
