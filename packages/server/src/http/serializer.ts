import type { FastifySerializerCompiler } from 'fastify/types/schema.js';
import fastJson from 'fast-json-stringify';
import { z } from 'zod';

/**
 * Serializes responses with fast-json-stringify, compiled at start from each route's zod response
 * schema (converted to JSON Schema, every shared definition inlined).
 *
 * Like zod's own serializer, only the declared fields leave (a stray `password_hash` on a user
 * row is dropped, not sent), but there is no parse of the answer on every request: the zod
 * serializer cost about a tenth of the CPU of GET /auth/me (docs/performance.md). The handlers'
 * return types are checked against the same schemas by TypeScript instead.
 */
export const responseSerializerCompiler: FastifySerializerCompiler<z.ZodType> = ({
  schema,
  method,
  url,
}) => {
  let json: Record<string, unknown>;
  try {
    // A fresh registry: no `$ref`s to named schemas, everything inline.
    json = z.toJSONSchema(schema, {
      io: 'output',
      target: 'draft-7',
      unrepresentable: 'throw',
      metadata: z.registry(),
    }) as Record<string, unknown>;
  } catch (cause) {
    throw new Error(`The response schema of ${method} ${url} has no JSON Schema form`, { cause });
  }
  return fastJson(json);
};
