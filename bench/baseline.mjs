// The baseline: a bare Fastify route answering the same JSON shape as GET /auth/me, in its own
// process like Latchkey, so the bench can report Latchkey's throughput as a ratio of it.
import Fastify from 'fastify';

const port = Number(process.argv[2] ?? 0);
const body = {
  user: {
    id: '0192f0c6-7b1a-7cc2-9a4e-5b9f0d6f1a2b',
    email: 'bench-user@example.com',
    name: 'Bench User',
    emailVerified: true,
    roles: [],
    createdAt: '2026-01-01T00:00:00.000Z',
  },
  csrfToken: 'k3Jx9yq0c1R2mZ8wVb7uTn5sLp4oQe6iHa3dFg2jKl0',
};

const app = Fastify({ logger: false });
app.get('/auth/me', async () => body);
await app.listen({ port, host: '127.0.0.1' });
process.send?.({ ready: true, port: app.server.address().port });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
