import Fastify from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { problemPlugin } from '../../src/http/problem.js';
import * as s from '@latchkey/contract';
import { responseSerializerCompiler } from '../../src/http/serializer.js';

/** The response serializer (fast-json-stringify compiled from the zod schemas). */
/** A user and a CSRF token that may be null, like GET /auth/me's. */
const userAndCsrf = z.object({ user: s.user, csrfToken: z.string().nullable() });

async function appAnswering(body: unknown, schema: z.ZodType = userAndCsrf) {
  const app = Fastify({ logger: false }).withTypeProvider<ZodTypeProvider>();
  app.setSerializerCompiler(responseSerializerCompiler);
  await app.register(problemPlugin);
  app.get('/', { schema: { response: { 200: schema } } }, async () => body as never);
  const res = await app.inject({ method: 'GET', url: '/' });
  await app.close();
  return res;
}

const user = {
  id: '0192f0c6-7b1a-7cc2-9a4e-5b9f0d6f1a2b',
  email: 'ada@example.com',
  name: null,
  emailVerified: true,
  roles: ['admin'],
  createdAt: '2026-01-01T00:00:00.000Z',
};

describe('the response serializer', () => {
  it('sends exactly the declared fields', async () => {
    const res = await appAnswering({
      user: { ...user, password_hash: '$argon2id$secret', disabled_at: null },
      csrfToken: 'csrf',
      sessionToken: 'must-not-leave',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ user, csrfToken: 'csrf' });
    expect(res.body).not.toMatch(/argon2|must-not-leave|disabled_at/);
  });

  it('keeps nulls where the schema allows them', async () => {
    const res = await appAnswering({ user, csrfToken: null });
    expect(res.json()).toEqual({ user, csrfToken: null });
  });

  it('answers a bare 500 when a required field is missing, without the partial body', async () => {
    const { email: _email, ...withoutEmail } = user;
    const res = await appAnswering({ user: withoutEmail, csrfToken: 'csrf' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ status: 500, code: 'internal_error' });
    expect(res.body).not.toContain('ada@example.com');
  });

  it('refuses at start a response schema JSON Schema cannot express', async () => {
    const app = Fastify({ logger: false }).withTypeProvider<ZodTypeProvider>();
    app.setSerializerCompiler(responseSerializerCompiler);
    const transformed = z.object({ at: z.string().transform((v) => new Date(v)) });
    app.get(
      '/',
      { schema: { response: { 200: transformed } } },
      async () => ({ at: 'x' }) as never,
    );
    await expect(app.ready()).rejects.toThrow(/GET \/ has no JSON Schema form/);
    await app.close();
  });
});
