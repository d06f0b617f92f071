// An Express app protected by Latchkey, with Latchkey's pages and API forwarded on its own
// origin (so the session cookie reaches both). Run Latchkey with PUBLIC_URL set to this app's
// address: `PUBLIC_URL=http://localhost:4000 npm start` at the repository root.
//
// Webhooks: `npm run latchkey -- webhooks add --url http://localhost:4000/webhooks/latchkey
// --events user.created,user.deleted` (with WEBHOOK_ALLOW_PRIVATE_NETWORKS=true for localhost)
// prints the secret; start this app with LATCHKEY_WEBHOOK_SECRET=whsec_… set to it.
import express from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { verifyWebhook } from '@latchkey/guard';
import { latchkey, requireAuth, requireRole } from '@latchkey/guard/express';

const port = Number(process.env.PORT ?? 4000);
const origin = process.env.APP_URL ?? `http://localhost:${port}`;
const latchkeyUrl = process.env.LATCHKEY_URL ?? 'http://localhost:3000';

const app = express();
app.disable('x-powered-by');

// Latchkey's pages and API on this origin (a reverse proxy such as Caddy or nginx does the same).
const LATCHKEY_PATHS = [
  '/auth',
  '/.well-known',
  '/login',
  '/two-step',
  '/register',
  '/check-email',
  '/verify-email',
  '/resend-verification',
  '/forgot-password',
  '/reset-password',
  '/account',
  '/assets',
  '/config.json',
  '/common-passwords.txt',
];
app.use(createProxyMiddleware({ target: latchkeyUrl, pathFilter: LATCHKEY_PATHS, xfwd: true }));

app.use(latchkey({ issuer: origin, serviceUrl: latchkeyUrl }));

// Pages: a person without a session goes to Latchkey's sign-in page, and comes back after.
const signedIn = (req, res, next) =>
  req.user ? next() : res.redirect(`/login?next=${encodeURIComponent(req.originalUrl)}`);
const html = (title, body) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>` +
  `<body><h1>${title}</h1>${body}<p><a href="/account">Your account</a></p></body></html>`;
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

app.get('/', (req, res) => res.send(html('Home', '<p><a href="/dashboard">Dashboard</a></p>')));
app.get('/dashboard', signedIn, (req, res) =>
  res.send(html('Dashboard', `<p>Hello, ${escape(req.user.name ?? req.user.email)}</p>`)),
);
app.get('/dashboard/admin', signedIn, requireRole('admin'), (req, res) =>
  res.send(html('Admin area', `<p>Roles: ${escape(req.user.roles.join(', '))}</p>`)),
);

// API: bearer access tokens (verified locally) or the session cookie.
app.get('/api/profile', requireAuth(), (req, res) => res.json({ user: req.user }));
app.get('/api/admin/stats', requireRole('admin'), (_req, res) => res.json({ users: 42 }));

// Signed events from Latchkey. The signature covers the exact bytes: read the body raw. Deliveries
// are at least once and not ordered, so an app remembers the webhook-ids it has handled.
const handled = new Set();
app.post('/webhooks/latchkey', express.raw({ type: 'application/json' }), (req, res) => {
  let event;
  try {
    event = verifyWebhook(process.env.LATCHKEY_WEBHOOK_SECRET ?? '', req.headers, req.body);
  } catch {
    return res.status(400).json({ error: 'invalid signature' });
  }
  const id = req.get('webhook-id');
  if (!handled.has(id)) {
    handled.add(id);
    console.log(`latchkey: ${event.type}`, event.data.user?.id ?? ''); // create or remove the profile here
  }
  res.status(204).end();
});

app.listen(port, '127.0.0.1', () => console.log(`example app on ${origin}`));
