import type { FastifySchemaCompiler } from 'fastify';
import { validatorCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';

/** A NUL, or half of a surrogate pair: PostgreSQL's text and jsonb take neither. */
const UNSTORABLE = /[\0\p{Cs}]/u;

/** Where a value sits: its key and its parent's place (a path is only built for the one found). */
interface Place {
  key: PropertyKey;
  parent: Place | undefined;
}

function pathOf(place: Place | undefined): PropertyKey[] {
  const path: PropertyKey[] = [];
  for (let p = place; p; p = p.parent) path.unshift(p.key);
  return path;
}

/**
 * The path to the first string (value or key) in `value` that holds an unstorable character, or
 * undefined. Iterative and linear: a 64 KB body can nest tens of thousands of arrays deep.
 */
export function unstorableTextPath(value: unknown): PropertyKey[] | undefined {
  const stack: [unknown, Place | undefined][] = [[value, undefined]];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const [item, place] = next;
    if (typeof item === 'string') {
      if (UNSTORABLE.test(item)) return pathOf(place);
    } else if (Array.isArray(item)) {
      item.forEach((v, i) => stack.push([v, { key: i, parent: place }]));
    } else if (item !== null && typeof item === 'object') {
      for (const [key, v] of Object.entries(item)) {
        if (UNSTORABLE.test(key)) return pathOf({ key, parent: place });
        stack.push([v, { key, parent: place }]);
      }
    }
  }
  return undefined;
}

const storableText = z.unknown().superRefine((value, ctx) => {
  const path = unstorableTextPath(value);
  if (path) {
    ctx.addIssue({
      code: 'custom',
      path,
      message: 'Text cannot contain NUL characters or unpaired surrogates.',
    });
  }
});

/**
 * The zod validator of every route's body, query string and parameters, after one check they all
 * need: a NUL or an unpaired surrogate in any string is a 400 `validation_failed` like any invalid
 * field, instead of a database error (a 500) or a silently altered value.
 */
export const routeValidatorCompiler: FastifySchemaCompiler<z.ZodType> = (route) =>
  validatorCompiler({ ...route, schema: storableText.pipe(route.schema) });
