// A Fastify app protected by Latchkey, with Latchkey's pages and API forwarded on its own
// origin (so the session cookie reaches both). Run Latchkey with PUBLIC_URL set to this app's
// address: `PUBLIC_URL=http://localhost:4001 npm start` at the repository root.
import Fastify from 'fastify';
import proxy from '@fastify/http-proxy';
import { latchkey, requireAuth, requirePermission, requireRole } from '@latchkey/guard/fastify';

const port = Number(process.env.PORT ?? 4001);
const origin = process.env.APP_URL ?? `http://localhost:${port}`;
const latchkeyUrl = process.env.LATCHKEY_URL ?? 'http://localhost:3000';

const app = Fastify({ logger: { level: 'warn' } });

// Latchkey's pages and API on this origin (a reverse proxy such as Caddy or nginx does the same).
for (const prefix of [
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
]) {
  await app.register(proxy, { upstream: latchkeyUrl, prefix, rewritePrefix: prefix });
}

await app.register(latchkey, {
  issuer: origin,
  serviceUrl: latchkeyUrl,
  rolePermissions: { support: ['tickets:read'] }, // `admin` has every permission
});

// Pages: a person without a session goes to Latchkey's sign-in page, and comes back after.
const signedIn = async (request, reply) => {
  if (!request.user) return reply.redirect(`/login?next=${encodeURIComponent(request.url)}`);
};
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const html = (reply, title, body) =>
  reply
    .type('text/html')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>` +
        `<body><h1>${title}</h1>${body}<p><a href="/account">Your account</a></p></body></html>`,
    );

app.get('/', async (_request, reply) =>
  html(reply, 'Home', '<p><a href="/dashboard">Dashboard</a></p>'),
);
app.get('/dashboard', { preHandler: signedIn }, async (request, reply) =>
  html(reply, 'Dashboard', `<p>Hello, ${escape(request.user.name ?? request.user.email)}</p>`),
);
app.get(
  '/dashboard/admin',
  { preHandler: [signedIn, requireRole('admin')] },
  async (request, reply) =>
    html(reply, 'Admin area', `<p>Roles: ${escape(request.user.roles.join(', '))}</p>`),
);

// API: bearer access tokens (verified locally) or the session cookie.
app.get('/api/profile', { preHandler: requireAuth() }, async (request) => ({ user: request.user }));
app.get('/api/tickets', { preHandler: requirePermission('tickets:read') }, async () => ({
  tickets: [],
}));

await app.listen({ port, host: '127.0.0.1' });
console.log(`example app on ${origin}`);
