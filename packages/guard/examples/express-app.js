// An Express back end protected by Latchkey. Run Latchkey (`npm start` at the repository root),
// build (`npm run build`), then: node packages/guard/examples/express-app.js
//
//   TOKEN=$(curl -s localhost:3000/auth/token -H 'content-type: application/json' \
//     -d '{"email":"ada@example.com","password":"…"}' | jq -r .accessToken)
//   curl localhost:4000/api/profile -H "authorization: Bearer $TOKEN"
//
// Webhooks: `npm run latchkey -- webhooks add --url http://localhost:4000/webhooks/latchkey
// --events user.created,user.deleted` (with WEBHOOK_ALLOW_PRIVATE_NETWORKS=true for localhost)
// prints the secret; start this app with LATCHKEY_WEBHOOK_SECRET=whsec_… set to it.
import express from 'express';
import { verifyWebhook } from '@latchkey/guard';
import { latchkey, requireAuth, requireRole } from '@latchkey/guard/express';

const app = express();
app.disable('x-powered-by');
app.use(
  latchkey({
    issuer: process.env.LATCHKEY_URL ?? 'http://localhost:3000', // Latchkey's PUBLIC_URL
    // audience: 'https://api.example.com',                     // if ACCESS_TOKEN_AUDIENCE is set
  }),
);

app.get('/api/health', (_req, res) => res.json({ ok: true }));
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

const port = Number(process.env.PORT ?? 4000);
app.listen(port, () => console.log(`example app on http://localhost:${port}`));
