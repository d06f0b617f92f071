// A Fastify back end protected by Latchkey. Run Latchkey (`npm start` at the repository root),
// build (`npm run build`), then: node packages/guard/examples/fastify-app.js
import Fastify from 'fastify';
import { latchkey, requireAuth, requirePermission } from '@latchkey/guard/fastify';

const app = Fastify({ logger: true });
await app.register(latchkey, {
  issuer: process.env.LATCHKEY_URL ?? 'http://localhost:3000', // Latchkey's PUBLIC_URL
  rolePermissions: { support: ['tickets:read'] }, // `admin` has every permission
});

app.get('/api/health', async () => ({ ok: true }));
app.get('/api/profile', { preHandler: requireAuth() }, async (request) => ({ user: request.user }));
app.get('/api/tickets', { preHandler: requirePermission('tickets:read') }, async () => ({
  tickets: [],
}));

await app.listen({ port: Number(process.env.PORT ?? 4001) });
