#!/usr/bin/env node
// The example apps in Debian's Chromium, each next to a real Latchkey on the same origin:
// a person is sent to sign in, signs in on Latchkey's page, lands back on the page they asked
// for and sees their name; a plain user is refused the admin page; an admin is let in; signing
// out everywhere else locks the app out within the guard's cache time.
//
//   npm run test:examples               (every example)
//   npm run test:examples -- next-app   (some)
//
// Builds the workspace packages once, installs each example once (npm cache, --prefer-offline)
// and builds it once: an install or a build is reused while its inputs hash the same.
import { createHash } from 'node:crypto';
import { spawn, execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLES = join(ROOT, 'examples');
const GUARD = join(ROOT, 'packages/guard');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PASSWORD = 'correct horse battery staple vortex';
const ADMIN = { email: 'admin@example.com', password: 'lantern orchard velvet compass ribbon' };
// The guard's default session cache: a revoked session is refused at most this long after.
const CACHE_SECONDS = 5;
// Next.js fixes its rewrites at build time: its Latchkey listens on a known port.
const NEXT_LATCHKEY_PORT = Number(process.env.NEXT_LATCHKEY_PORT ?? 39170);

const examples = {
  'next-app': {
    build: ['npx', 'next', 'build'],
    buildOutput: '.next',
    start: (port) => ['npx', 'next', 'start', '-p', String(port), '-H', '127.0.0.1'],
    latchkeyPort: NEXT_LATCHKEY_PORT,
    protectedPage: '/dashboard',
    adminPage: '/dashboard/admin',
    adminText: 'Admin area',
    serverAction: true,
    signOut: true,
  },
  'nest-api': {
    build: ['npx', 'tsc', '-p', '.'],
    buildOutput: 'dist',
    start: () => ['node', 'dist/main.js'],
    api: true,
    protectedPage: '/api/profile',
    adminPage: '/api/admin/stats',
    adminText: 'users',
  },
  'express-app': {
    start: () => ['node', 'server.js'],
    protectedPage: '/dashboard',
    adminPage: '/dashboard/admin',
    adminText: 'Admin area',
  },
  'fastify-app': {
    start: () => ['node', 'server.js'],
    protectedPage: '/dashboard',
    adminPage: '/dashboard/admin',
    adminText: 'Admin area',
  },
};

const timings = [];
async function timeStep(label, fn) {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    const seconds = (performance.now() - started) / 1000;
    timings.push([label, seconds]);
    console.log(`   ${label}: ${seconds.toFixed(1)} s`);
  }
}

function run(command, args, cwd, env = {}) {
  execFileSync(command, args, {
    cwd,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...env },
  });
}

/** A hash of files (recursively), skipping installs and build output. */
function hashFiles(paths, extra = '') {
  const hash = createHash('sha256').update(extra);
  const walk = (path) => {
    if (!existsSync(path)) return;
    const name = path.split('/').pop();
    if (
      ['node_modules', '.next', 'dist', 'next-env.d.ts'].includes(name) &&
      path !== join(GUARD, 'dist')
    )
      return;
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path).sort()) walk(join(path, entry));
    } else {
      hash.update(relative(ROOT, path)).update(readFileSync(path));
    }
  };
  for (const path of paths) walk(path);
  return hash.digest('hex');
}

/** Runs `fn` unless `marker` holds `key` (what it made is still there), then records the key. */
async function cachedStep(label, marker, key, fn) {
  if (existsSync(marker) && readFileSync(marker, 'utf8') === key) {
    console.log(`   ${label}: cached`);
    return;
  }
  await timeStep(label, fn);
  writeFileSync(marker, key);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function startProcess(command, args, cwd, env) {
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return {
    output: () => output,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const kill = setTimeout(() => process.kill(-child.pid, 'SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        process.kill(-child.pid, 'SIGTERM');
      }),
  };
}

async function waitFor(url, what, proc) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { redirect: 'manual' });
      await res.body?.cancel();
      if (res.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not answer at ${url} within 60 s:\n${proc.output()}`);
}

async function register(latchkey, origin, email, name) {
  const res = await fetch(`${latchkey}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin },
    body: JSON.stringify({ email, password: PASSWORD, name }),
  });
  assert.equal(res.status, 201, `register ${email}: ${res.status} ${await res.text()}`);
}

async function signIn(page, email, password) {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

async function testExample(name, spec, browser) {
  console.log(`\n== ${name}`);
  const timed = (label, fn) => timeStep(`${name} ${label}`, fn);
  const cached = (label, ...rest) => cachedStep(`${name} ${label}`, ...rest);
  const dir = join(EXAMPLES, name);
  const guardKey = hashFiles([join(GUARD, 'dist'), join(GUARD, 'package.json')]);
  await cached(
    'install',
    join(dir, 'node_modules/.latchkey-install'),
    hashFiles([join(dir, 'package.json'), join(dir, 'package-lock.json')], guardKey),
    () => run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], dir),
  );

  const latchkeyPort = spec.latchkeyPort ?? (await freePort());
  const latchkeyUrl = `http://127.0.0.1:${latchkeyPort}`;
  if (spec.build) {
    await cached(
      'build',
      join(dir, spec.buildOutput, '.latchkey-build'),
      // Next.js keeps LATCHKEY_URL in its rewrites; the other builds do not depend on it.
      hashFiles([dir], guardKey + (spec.latchkeyPort ? latchkeyUrl : '')),
      () => run(spec.build[0], spec.build.slice(1), dir, { LATCHKEY_URL: latchkeyUrl }),
    );
  }

  const appPort = await freePort();
  // Each example serves Latchkey's pages and API on its own origin (Next.js rewrites, or a proxy
  // in the app): Latchkey's PUBLIC_URL is the app's address.
  const origin = `http://localhost:${appPort}`;
  const dataDir = mkdtempSync(join(tmpdir(), `latchkey-${name}-`));
  const stops = [];
  const procs = [];
  try {
    const latchkey = startProcess(
      'node',
      [join(ROOT, 'packages/server/dist/cli/main.js'), 'start'],
      ROOT,
      {
        PORT: String(latchkeyPort),
        HOST: '127.0.0.1',
        PUBLIC_URL: origin, // the app's origin: Latchkey lives on it
        DATA_DIR: dataDir,
        NODE_ENV: 'development',
        LOG_LEVEL: 'warn',
        REQUIRE_EMAIL_VERIFICATION: 'false',
        RATE_LIMITS: 'off',
        BOOTSTRAP_ADMIN_EMAIL: ADMIN.email,
        BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password,
      },
    );
    stops.push(latchkey.stop);
    procs.push(['Latchkey', latchkey]);
    await timed('start Latchkey', () => waitFor(`${latchkeyUrl}/readyz`, 'Latchkey', latchkey));

    const [command, ...args] = spec.start(appPort);
    const app = startProcess(command, args, dir, {
      PORT: String(appPort),
      APP_URL: origin,
      LATCHKEY_URL: latchkeyUrl,
    });
    stops.push(app.stop);
    procs.push([name, app]);
    await timed('start app', () => waitFor(`http://127.0.0.1:${appPort}/`, name, app));

    const ada = `ada-${Date.now()}@example.com`;
    await register(latchkeyUrl, origin, ada, 'Ada Lovelace');

    await timed('browser flow', async () => {
      const context = await browser.newContext({ locale: 'en-GB' });
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      try {
        // 1. Asking for the protected page without a session: to sign-in, with the way back.
        const target = `${origin}${spec.protectedPage}`;
        if (spec.api) {
          const anonymous = await page.goto(target);
          assert.equal(anonymous.status(), 401, 'an API answers 401 without a session');
          await page.goto(`${origin}/login?next=${encodeURIComponent(spec.protectedPage)}`);
        } else {
          await page.goto(target);
          await page.waitForURL(`${origin}/login?next=${encodeURIComponent(spec.protectedPage)}`);
        }
        // 2. Latchkey's own sign-in page, on the app's origin; back on the asked page.
        await signIn(page, ada, PASSWORD);
        await page.waitForURL(target);
        await page.getByText('Ada Lovelace').first().waitFor();
        // 3. A server action that calls a protected API route as the user.
        if (spec.serverAction) {
          await page.getByLabel('Note').fill('buy milk');
          await page.getByRole('button', { name: 'Add note' }).click();
          await page.getByRole('listitem').filter({ hasText: 'buy milk' }).waitFor();
        }
        // 4. A plain user is refused the admin page.
        const refused = await page.goto(`${origin}${spec.adminPage}`);
        assert.equal(refused.status(), 403, 'a plain user gets 403 on the admin page');
        // 5. Signed out everywhere else (from another device): locked out within the cache time.
        const other = await fetch(`${latchkeyUrl}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin },
          body: JSON.stringify({ email: ada, password: PASSWORD }),
        });
        assert.equal(other.status, 200);
        const cookie = other.headers.getSetCookie()[0].split(';')[0];
        const { csrfToken } = await other.json();
        const revoked = await fetch(`${latchkeyUrl}/auth/sessions`, {
          method: 'DELETE',
          headers: { cookie, 'x-csrf-token': csrfToken, origin },
        });
        assert.equal(revoked.status, 204);
        const since = Date.now();
        for (;;) {
          const res = await page.goto(target);
          const out = spec.api ? res.status() === 401 : page.url().startsWith(`${origin}/login`);
          if (out) break;
          assert.ok(
            Date.now() - since < (CACHE_SECONDS + 3) * 1000,
            'still signed in after the cache time',
          );
          await new Promise((r) => setTimeout(r, 250));
        }
        console.log(
          `   locked out ${((Date.now() - since) / 1000).toFixed(1)} s after the revocation`,
        );
      } finally {
        await context.close();
      }
      // 6. An admin gets the admin page.
      const adminContext = await browser.newContext({ locale: 'en-GB' });
      const adminPage = await adminContext.newPage();
      adminPage.setDefaultTimeout(20_000);
      try {
        await adminPage.goto(`${origin}/login?next=${encodeURIComponent(spec.adminPage)}`);
        await signIn(adminPage, ADMIN.email, ADMIN.password);
        await adminPage.waitForURL(`${origin}${spec.adminPage}`);
        await adminPage.getByText(spec.adminText).first().waitFor();
        // 7. Signing out in the app ends the session at Latchkey too.
        if (spec.signOut) {
          await adminPage.getByRole('button', { name: 'Sign out' }).click();
          await adminPage.waitForURL(`${origin}/`);
          await adminPage.goto(`${origin}${spec.protectedPage}`);
          await adminPage.waitForURL(new RegExp(`^${origin}/login`));
        }
      } finally {
        await adminContext.close();
      }
    });
    console.log(`   ok`);
  } catch (error) {
    for (const [label, proc] of procs)
      console.error(`-- ${label} output:\n${proc.output().slice(-3000)}`);
    throw error;
  } finally {
    for (const stop of stops.reverse()) await stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const started = performance.now();
const chosen = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = chosen.length ? chosen : Object.keys(examples);
for (const name of names) if (!examples[name]) throw new Error(`no example ${name}`);
if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install chromium)`);

console.log('== workspace packages');
await timeStep('npm run build', () => run('npm', ['run', 'build', '--silent'], ROOT));
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
let failed = 0;
try {
  for (const name of names) {
    try {
      await testExample(name, examples[name], browser);
    } catch (error) {
      failed++;
      console.error(`   FAILED: ${error.stack ?? error}`);
    }
  }
} finally {
  await browser.close();
}
console.log(
  `\n== examples: ${names.length - failed} passed, ${failed} failed in ${((performance.now() - started) / 1000).toFixed(0)} s`,
);
for (const [label, seconds] of timings)
  console.log(`   ${label.padEnd(16)} ${seconds.toFixed(1)} s`);
process.exit(failed ? 1 : 0);
