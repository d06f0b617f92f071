import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/src/config/config.js';
import { createLatchkey, type Latchkey } from '../../server/src/app/latchkey.js';
import { createTestDatabase } from '../../server/test/support/db.js';
import { Secret, TOTP } from 'otpauth';

/**
 * The web pages in a real browser: Debian's Chromium driven by playwright-core, against an
 * in-process Latchkey on a real port serving a fresh Vite build of packages/web. Without
 * /usr/bin/chromium the suite is skipped with a message, unless E2E_REQUIRED=1 (CI), where a
 * missing browser fails it.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasBrowser = existsSync(CHROMIUM);
const required = process.env.E2E_REQUIRED === '1';
if (!hasBrowser && !required) {
  console.warn(
    `[web e2e] SKIPPED: no Chromium at ${CHROMIUM}. Install it (apt-get install -y chromium) ` +
      'or set CHROMIUM_PATH to run the browser tests.',
  );
}

const webDir = fileURLToPath(new URL('..', import.meta.url));
const screenshots = fileURLToPath(new URL('../../../test-output/screenshots/', import.meta.url));
const PASSWORD = 'correct horse battery staple vortex';
const NEW_PASSWORD = 'lantern orchard velvet compass ribbon';
const RESET_PASSWORD = 'harbor thistle meadow quartz anchor';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

// A real browser flow runs well past the default 30 s on a loaded machine.
describe.skipIf(!hasBrowser && !required)('web pages in Chromium', { timeout: 120_000 }, () => {
  let latchkey: Latchkey;
  let closeDatabase: () => Promise<void>;
  let browser: Browser;
  let base: string;
  let distDir: string;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    if (!hasBrowser) {
      throw new Error(`E2E_REQUIRED=1 but there is no Chromium at ${CHROMIUM}`);
    }
    // A fresh build of the current sources, apart from the one the server serves.
    distDir = mkdtempSync(join(tmpdir(), 'latchkey-web-'));
    const { build } = await import('vite');
    await build({
      configFile: join(webDir, 'vite.config.ts'),
      logLevel: 'warn',
      build: { outDir: distDir, emptyOutDir: true, sourcemap: false },
    });

    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const database = await createTestDatabase('pglite');
    closeDatabase = () => database.close();
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_URL: base,
      RATE_LIMITS: 'off',
      // The admin pages' tests sign in by password alone.
      MFA_REQUIRED_ROLES: '',
      KEY_ENCRYPTION_SECRET: 'test-key-encryption-secret-0123456789abcdef',
      WEB_DIST_DIR: distDir,
      BRAND_NAME: 'Acme Sign-in',
      BRAND_PRIMARY_COLOR: '#7c3aed',
    });
    latchkey = await createLatchkey(config, { database, mailPollIntervalMs: 50 });
    await latchkey.app.listen({ port, host: '127.0.0.1' });

    browser = await chromium.launch({
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
    mkdirSync(screenshots, { recursive: true });
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await latchkey?.close();
    await closeDatabase?.();
    if (distDir) rmSync(distDir, { recursive: true, force: true });
  });

  async function newPage(viewport = { width: 1100, height: 900 }): Promise<Page> {
    const context = await browser.newContext({ viewport, locale: 'en-GB' });
    contexts.push(context);
    const page = await context.newPage();
    // The server hashes at the lowest CPU priority: while the rest of the suite keeps both cores
    // busy, a password change (a verification, a judgement and a hash) waited over 10 s once.
    page.setDefaultTimeout(20_000);
    return page;
  }

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });

  /** The newest link to `path` mailed to `to`, read from the dev mailbox. */
  async function mailedLink(to: string, path: string, after = 0): Promise<string> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const response = await fetch(`${base}/dev/mail.json`);
      const { messages } = (await response.json()) as {
        messages: { to: string; text: string; sentAt: string }[];
      };
      const link = messages
        .filter((m) => m.to === to && Date.parse(m.sentAt) >= after)
        .map((m) => m.text.match(new RegExp(`https?://\\S+${path}\\?token=[\\w-]+`))?.[0])
        .find(Boolean);
      if (link) return link;
      if (Date.now() > deadline) throw new Error(`no ${path} mail to ${to}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function signIn(page: Page, email: string, password: string) {
    await page.goto(`${base}/login`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
  }

  const noHorizontalScroll = (page: Page) =>
    page.evaluate(() => (document.scrollingElement?.scrollWidth ?? 0) <= window.innerWidth);

  // Long enough to wrap at 360 px: it must wrap after the @, not mid-word.
  const email = `e2e-long-address-${Date.now()}@example.com`;

  /**
   * Where `.email` text wraps other than at its <wbr> (after the @, before a dot) or after a
   * hyphen: "tag: text|rest" for each mid-word break (none expected).
   */
  const midWordBreaks = (page: Page) =>
    page.evaluate(() =>
      [...document.querySelectorAll('.email')].flatMap((element) =>
        [...element.childNodes]
          .filter((node) => node.nodeType === Node.TEXT_NODE && node.textContent)
          .flatMap((node) => {
            const text = node.textContent ?? '';
            const range = document.createRange();
            const top = (i: number) => {
              range.setStart(node, i);
              range.setEnd(node, i + 1);
              return range.getBoundingClientRect().top;
            };
            const breaks: string[] = [];
            for (let i = 1; i < text.length; i++) {
              if (top(i) > top(i - 1) + 1 && text[i - 1] !== '-') {
                breaks.push(
                  `${element.parentElement?.tagName}: ${text.slice(0, i)}|${text.slice(i)}`,
                );
              }
            }
            return breaks;
          }),
      ),
    );

  type Box = { x: number; y: number; width: number; height: number };
  /** Two boxes, both on screen, that do not overlap. */
  const apart = (a: Box | null, b: Box | null) =>
    a !== null &&
    b !== null &&
    (a.x + a.width <= b.x ||
      b.x + b.width <= a.x ||
      a.y + a.height <= b.y ||
      b.y + b.height <= a.y);

  it('register → mail → verify → sign in → change name → change password → two devices → sign out the other → sign out', async () => {
    const page = await newPage();
    await page.goto(`${base}/register`);
    expect(await page.title()).toBe('Create your account — Acme Sign-in');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Name (optional)').fill('Ada Lovelace');
    await page.getByLabel('Password', { exact: true }).fill('password');
    await page.getByText(/Use at least 15 characters/).waitFor();
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Confirm password').fill(PASSWORD);
    await page.getByText(/Password strength: (Strong|Very strong)/).waitFor();
    await shot(page, 'register');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Check your mail' }).waitFor();
    await shot(page, 'check-email');

    // A link scanner's GET does not use the token up; the page takes it out of the address bar.
    const verifyLink = await mailedLink(email, '/verify-email');
    expect((await fetch(verifyLink)).status).toBe(200);
    await page.goto(verifyLink);
    await page.getByRole('button', { name: 'Confirm my email address' }).waitFor();
    expect(page.url()).toBe(`${base}/verify-email`);
    await shot(page, 'verify-email');
    // A sign-up's link asks for the password chosen at sign-up: a wrong one is explained and the
    // link stays usable, the right one confirms.
    await page.getByRole('button', { name: 'Confirm my email address' }).click();
    await page.getByText('Enter the password you chose when you signed up').waitFor();
    await page.getByLabel('Password').fill('not the password at all');
    await page.getByRole('button', { name: 'Confirm my email address' }).click();
    await page
      .getByText(/not the password this address was signed up with/)
      .first()
      .waitFor();
    await shot(page, 'verify-email-password');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Confirm my email address' }).click();
    await page.getByText(`Your email address ${email} is confirmed.`).waitFor();
    expect(page.url()).toBe(`${base}/verify-email`);

    // Wrong password first: one plain message.
    await page.goto(`${base}/login`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('not the password at all');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByText('The email or password is incorrect.').waitFor();
    await shot(page, 'login');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    expect(await page.evaluate(() => JSON.stringify(window.localStorage))).toBe('{}');

    // Change the display name: the profile shows it at once, and again after a reload.
    const profile = page.getByRole('region', { name: 'Profile' });
    expect(await profile.getByLabel('Display name').inputValue()).toBe('Ada Lovelace');
    await profile.getByLabel('Display name').fill('Ada King');
    await profile.getByRole('button', { name: 'Save name' }).click();
    await page.getByText('Name saved.').waitFor();
    await profile
      .getByRole('definition')
      .filter({ hasText: /^Ada King$/ })
      .waitFor();
    await page.reload();
    await profile
      .getByRole('definition')
      .filter({ hasText: /^Ada King$/ })
      .waitFor();

    // Change the password.
    const change = page.getByRole('region', { name: 'Change password' });
    await change.getByLabel('Current password').fill(PASSWORD);
    await change.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await change.getByLabel('Confirm new password').fill(NEW_PASSWORD);
    await change.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Password changed. Your other devices were signed out.').waitFor();

    // A second browser (own cookies) signs in with the new password: two devices.
    const other = await newPage({ width: 360, height: 800 });
    await signIn(other, email, NEW_PASSWORD);
    expect(await noHorizontalScroll(other)).toBe(true);
    // The address wraps (it is longer than the line) but only after the @.
    const lead = await other.locator('.lead .email').boundingBox();
    expect(lead && lead.height > 30).toBe(true);
    await shot(other, 'account-360px');
    expect(await midWordBreaks(other)).toEqual([]);

    await page.reload();
    const devices = page.getByTestId('device');
    await expect.poll(() => devices.count()).toBe(2);
    await page.getByText('Recent security activity').waitFor();
    await shot(page, 'account');
    await page.getByRole('button', { name: /^Sign out .*last active/ }).click();
    await page.getByText('Device signed out.').waitFor();
    await expect.poll(() => devices.count()).toBe(1);

    // The other browser's session is over: its next look at the account drops to sign-in.
    await other.reload();
    await other.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(other.url()).toBe(`${base}/login?next=%2Faccount`);

    // Sign out.
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.goto(`${base}/account`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  });

  it('forgot → reset → sign in, and the pages fit 360 px', async () => {
    const page = await newPage({ width: 360, height: 800 });
    for (const path of ['/login', '/register', '/forgot-password', '/resend-verification']) {
      await page.goto(`${base}${path}`);
      await page.locator('h1').waitFor();
      expect(await noHorizontalScroll(page), `${path} at 360 px`).toBe(true);
    }
    await shot(page, 'resend-verification-360px');
    const before = Date.now() - 1000;
    await page.goto(`${base}/forgot-password`);
    await page.getByLabel('Email').fill(email);
    await page.getByRole('button', { name: 'Send the link' }).click();
    await page.getByText(/a link to choose a new password is on its way/).waitFor();
    await shot(page, 'forgot-password');

    const resetLink = await mailedLink(email, '/reset-password', before);
    await page.goto(resetLink);
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    expect(page.url()).toBe(`${base}/reset-password`);
    await page.getByLabel('New password', { exact: true }).fill(RESET_PASSWORD);
    await page.getByLabel('Confirm new password').fill(RESET_PASSWORD);
    await shot(page, 'reset-password');
    await page.getByRole('button', { name: 'Save the new password' }).click();
    await page.getByText(/Your password is changed and every device was signed out/).waitFor();
    await page.getByRole('link', { name: 'Sign in' }).last().click();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(RESET_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
  });

  it('a sign-in for an unconfirmed address: resend apart from sign-in, the toast covers nothing', async () => {
    const unconfirmed = `e2e-unconfirmed-${Date.now()}@example.com`;
    await latchkey.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email: unconfirmed, password: PASSWORD },
    });
    const page = await newPage({ width: 360, height: 640 });
    await page.goto(`${base}/login`);
    await page.getByLabel('Email').fill(unconfirmed);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    const resend = page.getByRole('button', { name: 'Send a new confirmation link' });
    await resend.waitFor();
    const signIn = page.getByRole('button', { name: 'Sign in', exact: true });
    const [above, below] = [await resend.boundingBox(), await signIn.boundingBox()];
    expect((below?.y ?? 0) - ((above?.y ?? 0) + (above?.height ?? 0))).toBeGreaterThanOrEqual(8);
    await resend.click();
    const toast = page.locator('.toast').filter({ hasText: 'Verification link sent.' });
    await toast.waitFor();
    for (const control of [
      page.getByLabel('Email'),
      page.getByLabel('Password'),
      resend,
      signIn,
      page.getByRole('link', { name: 'Sign in' }).first(),
    ]) {
      expect(apart(await toast.boundingBox(), await control.boundingBox())).toBe(true);
    }
    await shot(page, 'login-unconfirmed-360px');
  });

  it("answers an unknown address with the pages' not-found and a 404", async () => {
    const page = await newPage();
    const response = await page.goto(`${base}/no/such/page`);
    expect(response?.status()).toBe(404);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    expect(await page.title()).toBe('Page not found — Acme Sign-in');
    const api = await fetch(`${base}/no/such/page`, { headers: { accept: 'application/json' } });
    expect(api.status).toBe(404);
    expect(api.headers.get('content-type')).toMatch(/application\/problem\+json/);
  });

  it('serves the pages with the branding from the environment and a strict CSP', async () => {
    const response = await fetch(`${base}/login`);
    const html = await response.text();
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(html).toContain('<title>Acme Sign-in</title>');
    expect(html).toContain('--brand:#7c3aed');
    expect(html).not.toMatch(/<script(?![^>]*(type="application\/json"|type="module"[^>]*src=))/);
    const page = await newPage();
    await page.goto(`${base}/login`);
    expect(await page.locator('.brand').textContent()).toBe('Acme Sign-in');
    const colour = await page.evaluate(
      () => getComputedStyle(document.querySelector('.button.primary') as Element).backgroundColor,
    );
    expect(colour).toBe('rgb(124, 58, 237)');
  });

  it('admin disables a user whose open page then drops to sign-in', async () => {
    const adminEmail = `e2e-admin-${Date.now()}@example.com`;
    const userEmail = `e2e-user-${Date.now()}@example.com`;
    for (const address of [adminEmail, userEmail]) {
      await latchkey.app.inject({
        method: 'POST',
        url: '/auth/register',
        payload: { email: address, password: PASSWORD },
      });
      const link = await mailedLink(address, '/verify-email');
      const token = new URL(link).searchParams.get('token');
      await latchkey.app.inject({
        method: 'POST',
        url: '/auth/verify-email',
        payload: { token, password: PASSWORD },
      });
    }
    const admin = await latchkey.database.db
      .selectFrom('users')
      .select('id')
      .where('email', '=', adminEmail)
      .executeTakeFirstOrThrow();
    await latchkey.database.db
      .insertInto('user_roles')
      .values({ user_id: admin.id, role_name: 'admin' })
      .execute();

    const victim = await newPage();
    await signIn(victim, userEmail, PASSWORD);

    const page = await newPage();
    await signIn(page, adminEmail, PASSWORD);
    await page.getByRole('link', { name: 'Admin' }).click();
    await page.getByRole('heading', { name: 'Administration' }).waitFor();
    await page.getByLabel('Search by email').fill(userEmail);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: userEmail }).waitFor();
    await shot(page, 'admin-users');
    await page.getByRole('link', { name: userEmail }).click();
    await page.getByRole('button', { name: 'Disable user' }).click();
    // Asked first, in the page (not window.confirm).
    await page.getByRole('alertdialog').getByText(`Disable ${userEmail}?`).waitFor();
    await page.getByRole('button', { name: 'Yes, disable' }).click();
    await page.getByText('User disabled and signed out everywhere.').waitFor();
    await page.getByRole('button', { name: 'Enable user' }).waitFor();
    // The user's audit list loads again: the action is in it, with who did it.
    const disabledRow = page.getByRole('row', { name: /Account disabled/ });
    await disabledRow.waitFor();
    await disabledRow.getByRole('link', { name: adminEmail }).waitFor();
    await page.getByRole('checkbox', { name: /admin/ }).waitFor();
    await shot(page, 'admin-user');
    await page.getByRole('link', { name: 'Audit events' }).click();
    await page.getByRole('cell', { name: 'login.succeeded' }).first().waitFor();
    // Rows name the user by email and the event in words, with its data.
    const login = page.getByRole('row', { name: /Signed in/ }).filter({ hasText: userEmail });
    await login.first().getByRole('link', { name: userEmail }).waitFor();
    await login
      .first()
      .getByText(/sessionId: /)
      .waitFor();
    // Every card of the admin pages is as wide as the others.
    const widths = await page
      .locator('.admin .card')
      .evaluateAll((cards) => cards.map((card) => Math.round(card.getBoundingClientRect().width)));
    expect(new Set(widths).size).toBe(1);
    await shot(page, 'admin-audit');

    // The user's open page looks again when it gets focus (and every 30 s).
    await victim.evaluate(() => window.dispatchEvent(new Event('focus')));
    await victim.getByRole('heading', { name: 'Sign in' }).waitFor();
  });

  it('two-step sign-in: an authenticator app, then passkeys on a CDP virtual authenticator', async () => {
    // WebAuthn refuses an IP address as the RP ID: this Latchkey is reached as localhost, and
    // its clock can be moved to make a sign-in old.
    const port = await freePort();
    const origin = `http://localhost:${port}`;
    const database = await createTestDatabase('pglite');
    let offsetMs = 0;
    const now = () => new Date(Date.now() + offsetMs);
    const second = await createLatchkey(
      loadConfig({
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        HOST: '127.0.0.1',
        PORT: String(port),
        PUBLIC_URL: origin,
        RATE_LIMITS: 'off',
        REQUIRE_EMAIL_VERIFICATION: 'false',
        KEY_ENCRYPTION_SECRET: 'test-key-encryption-secret-0123456789abcdef',
        WEB_DIST_DIR: distDir,
      }),
      { database, clock: now, startMailWorker: false },
    );
    try {
      await second.app.listen({ port, host: '127.0.0.1' });
      const address = `e2e-two-step-${Date.now()}@example.com`;
      const created = await second.app.inject({
        method: 'POST',
        url: '/auth/register',
        payload: { email: address, password: PASSWORD },
      });
      expect(created.statusCode).toBe(201);
      const code = (secret: string, steps = 0) =>
        TOTP.generate({
          secret: Secret.fromBase32(secret),
          timestamp: now().getTime() + steps * 30_000,
        });

      const page = await newPage({ width: 360, height: 800 });
      const signInHere = async () => {
        await page.goto(`${origin}/login`);
        await page.getByLabel('Email').fill(address);
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      };
      const signOut = async () => {
        await page.getByRole('button', { name: 'Sign out', exact: true }).click();
        await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      };
      await signInHere();
      await page.getByRole('heading', { name: 'Your account' }).waitFor();

      // The authenticator app: the QR code and the key, a code confirms it, codes shown once.
      await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
      await page.getByAltText("QR code of the authenticator app's key").waitFor();
      const secret = ((await page.getByTestId('totp-secret').textContent()) ?? '').replace(
        /\s/g,
        '',
      );
      await page.getByLabel('Code from the app').fill(code(secret));
      await page.getByRole('button', { name: 'Turn on' }).click();
      const recovery = page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem');
      await recovery.first().waitFor();
      expect(await recovery.count()).toBe(10);
      expect(await noHorizontalScroll(page)).toBe(true);
      await shot(page, 'two-step-recovery-codes');
      await page.getByRole('button', { name: 'I saved them' }).click();
      await signOut();

      // The password, then a code of the next step (this one was spent by the setup).
      await signInHere();
      const field = page.getByLabel('Code from your authenticator app');
      await field.waitFor();
      expect(await field.getAttribute('autocomplete')).toBe('one-time-code');
      expect(await field.getAttribute('inputmode')).toBe('numeric');
      await shot(page, 'two-step-code');
      await field.fill(code(secret, 1));
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('heading', { name: 'Your account' }).waitFor();

      // Passkeys, on Chrome's virtual authenticator (a platform one, with user verification).
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('WebAuthn.enable');
      await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: {
          protocol: 'ctap2',
          transport: 'internal',
          hasResidentKey: true,
          hasUserVerification: true,
          isUserVerified: true,
        },
      });
      await page.getByRole('button', { name: 'Add a passkey' }).click();
      await page.getByTestId('passkey').first().waitFor();
      await signOut();

      // A passkey alone signs in: no email, no password.
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await page.getByRole('heading', { name: 'Your account' }).waitFor();
      await signOut();

      // And it is a second step after the password.
      await signInHere();
      await page.getByRole('button', { name: 'Use a passkey' }).click();
      await page.getByRole('heading', { name: 'Your account' }).waitFor();

      // Eleven minutes later, removing it asks for the password first.
      offsetMs = 11 * 60_000;
      await page.getByRole('button', { name: /^Remove Passkey/ }).click();
      await page.getByLabel('Your password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Confirm', exact: true }).click();
      await page.getByTestId('passkey').first().waitFor({ state: 'detached' });
      const left = await second.database.db.selectFrom('passkeys').select('id').execute();
      expect(left).toEqual([]);
    } finally {
      await second.close();
      await database.close();
    }
  });
});
