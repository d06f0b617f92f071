import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import Fastify, { type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * The headers @fastify/helmet would set with `options`, computed once at start.
 *
 * @fastify/helmet runs `helmet(options)` on every request, which parses and serialises the
 * Content-Security-Policy each time (about 7% of the CPU of GET /auth/me; docs/performance.md).
 * The headers only depend on the options, so this asks @fastify/helmet itself once, on a
 * throwaway instance, and sets the same headers from then on. Per-route `helmet` options,
 * `reply.helmet()` and CSP nonces are not supported (Latchkey uses none of them).
 */
export async function helmetHeaders(
  options: FastifyHelmetOptions,
): Promise<Record<string, string>> {
  const answer = async (withHelmet: boolean) => {
    const probe = Fastify({ logger: false });
    if (withHelmet) await probe.register(helmet, options);
    probe.get('/', async () => '');
    const res = await probe.inject({ method: 'GET', url: '/' });
    await probe.close();
    return res.headers;
  };
  const plain = await answer(false);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(await answer(true))) {
    if (value !== undefined && plain[name] === undefined) headers[name] = String(value);
  }
  return headers;
}

/** Drop-in for `app.register(helmet, options)`: the same headers, computed at start. */
export const securityHeadersPlugin = fp(
  async (app: FastifyInstance, options: FastifyHelmetOptions) => {
    const headers = await helmetHeaders(options);
    app.addHook('onRequest', (_request, reply, done) => {
      reply.headers(headers);
      done();
    });
  },
  { name: 'latchkey-security-headers' },
);
