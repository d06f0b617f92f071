import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEB_PAGES } from '../../src/http/routes/web.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';

/** Serving of the built web pages (packages/web) against a stand-in build. */
describe.each(backends)('web pages on %s', (backend) => {
  let t: TestApp;
  let dist: string;
  beforeAll(async () => {
    dist = mkdtempSync(join(tmpdir(), 'latchkey-dist-'));
    mkdirSync(join(dist, 'assets'));
    writeFileSync(
      join(dist, 'index.html'),
      '<!doctype html><html><head><title>Latchkey</title><!--latchkey-config-->' +
        '<script type="module" src="/assets/index-abc123.js"></script></head><body><div id="root"></div></body></html>',
    );
    writeFileSync(join(dist, 'assets', 'index-abc123.js'), 'console.log("app");');
    t = await createTestApp(backend, {
      WEB_DIST_DIR: dist,
      BRAND_NAME: 'Acme </title><script>x</script>',
      BRAND_PRIMARY_COLOR: '#7c3aed',
      BRAND_LOGO_URL: 'https://cdn.example.com/logo.svg',
      PASSWORD_MIN_LENGTH: '12',
    });
  });
  afterAll(async () => {
    await t.close();
    rmSync(dist, { recursive: true, force: true });
  });

  it('answers every page path with index.html carrying the configuration, not cached', async () => {
    for (const path of [...WEB_PAGES, '/verify-email?token=abc', '/admin?user=x']) {
      const res = await t.app.inject({ method: 'GET', url: path });
      expect(res.statusCode, path).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['cache-control']).toBe('no-store');
    }
    const res = await t.app.inject({ method: 'GET', url: '/login' });
    const block = /<script type="application\/json" id="latchkey-config">(.*?)<\/script>/.exec(
      res.body,
    );
    expect(JSON.parse(block?.[1] ?? 'null')).toEqual({
      brand: {
        name: 'Acme </title><script>x</script>',
        primaryColor: '#7c3aed',
        logoUrl: 'https://cdn.example.com/logo.svg',
      },
      serviceName: 'Latchkey',
      password: { minLength: 12, minScore: 3, maxLength: 256 },
      requireEmailVerification: true,
    });
    // The name cannot break out of the title or the data block.
    expect(res.body).toContain('<title>Acme &lt;/title&gt;&lt;script&gt;x&lt;/script&gt;</title>');
    expect(res.body).not.toContain('<script>x');
    expect(res.body).toContain('<style>:root{--brand:#7c3aed}</style>');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain('img-src');
    expect(csp).toContain('https://cdn.example.com');
  });

  it('serves hashed assets for good and the same configuration at /config.json', async () => {
    const asset = await t.app.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['content-type']).toMatch(/javascript/);
    expect(asset.headers['cache-control']).toMatch(/max-age=31536000.*immutable/);
    const config = await t.app.inject({ method: 'GET', url: '/config.json' });
    expect(config.json().brand.primaryColor).toBe('#7c3aed');
    const common = await t.app.inject({ method: 'GET', url: '/common-passwords.txt' });
    expect(common.statusCode).toBe(200);
    expect(common.body.split('\n').length).toBeGreaterThan(1000);
  });

  it('keeps problem+json 404s for unknown paths and assets, and the API working', async () => {
    for (const url of ['/nope', '/assets/missing.js', '/auth/nothing', '/login/extra']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    }
    const post = await t.app.inject({ method: 'POST', url: '/login', payload: {} });
    expect(post.statusCode).toBe(405);
    expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/openapi.json' })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/auth/me' })).statusCode).toBe(401);
  });

  const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

  it("answers a browser at an address that is no page with the pages' not-found, status 404", async () => {
    for (const url of ['/nope', '/login/extra', '/some/deep/path?x=1', '/adminx']) {
      const res = await t.app.inject({ method: 'GET', url, headers: { accept: BROWSER } });
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type'], url).toMatch(/^text\/html/);
      expect(res.headers['cache-control'], url).toBe('no-store');
      // The same index.html (the app shows "Page not found"), with the pages' CSP.
      expect(res.body, url).toContain('id="latchkey-config"');
      expect(String(res.headers['content-security-policy']), url).toContain("script-src 'self'");
    }
    const head = await t.app.inject({ method: 'HEAD', url: '/nope', headers: { accept: BROWSER } });
    expect(head.statusCode).toBe(404);
  });

  it('keeps problem+json 404s for API clients, the API and machine paths, and other methods', async () => {
    const json = 'application/json';
    for (const [url, accept] of [
      ['/nope', json],
      ['/nope', '*/*'],
      ['/nope', 'application/problem+json, text/html;q=0.5'],
      ['/auth/nothing', BROWSER],
      ['/admin/nothing', BROWSER],
      ['/assets/missing.js', BROWSER],
      ['/.well-known/nothing', BROWSER],
      ['/docs/nothing/here', BROWSER],
      ['/dev/nothing', BROWSER],
    ] as const) {
      const res = await t.app.inject({ method: 'GET', url, headers: { accept } });
      expect(res.statusCode, `${url} ${accept}`).toBe(404);
      expect(res.headers['content-type'], `${url} ${accept}`).toMatch(/application\/problem\+json/);
      expect(res.json().code).toBe('not_found');
    }
    const post = await t.app.inject({ method: 'POST', url: '/nope', headers: { accept: BROWSER } });
    expect(post.statusCode).toBe(404);
    expect(post.headers['content-type']).toMatch(/application\/problem\+json/);
    const wrongMethod = await t.app.inject({
      method: 'POST',
      url: '/login',
      headers: { accept: BROWSER },
      payload: {},
    });
    expect(wrongMethod.statusCode).toBe(405);
  });
});

describe('web pages not built', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('pglite', { WEB_DIST_DIR: join(tmpdir(), 'latchkey-no-such-dist') });
  });
  afterAll(() => t.close());

  it('says how to build them', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/login' });
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('npm run build');
  });

  it('rejects a brand colour that is not a hex colour', async () => {
    await expect(
      createTestApp('pglite', { BRAND_PRIMARY_COLOR: 'red;}body{display:none' }),
    ).rejects.toThrow(/BRAND_PRIMARY_COLOR/);
  });
});
