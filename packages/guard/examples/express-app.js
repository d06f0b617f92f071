// An Express back end protected by Latchkey. Run Latchkey (`npm start` at the repository root),
// build (`npm run build`), then: node packages/guard/examples/express-app.js
//
//   TOKEN=$(curl -s localhost:3000/auth/token -H 'content-type: application/json' \
//     -d '{"email":"ada@example.com","password":"…"}' | jq -r .accessToken)
//   curl localhost:4000/api/profile -H "authorization: Bearer $TOKEN"
import express from 'express';
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

const port = Number(process.env.PORT ?? 4000);
app.listen(port, () => console.log(`example app on http://localhost:${port}`));
