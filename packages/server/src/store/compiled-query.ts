import { type Compilable, CompiledQuery, type Kysely, type QueryResult } from 'kysely';
import type { Database, Queryable } from './schema.js';

/** Stands in for a value while the statement is compiled; no real value starts with NUL. */
const MARK = '\u0000value:';

/**
 * A statement of one fixed shape, built and compiled by Kysely once and then run with new
 * values. Kysely builds and compiles a statement on every call, which costs a hot path (every
 * refresh) more event-loop time than reading the statement's answer. `build` receives stand-ins
 * for the values: it may only hand them to the builder as values — never look at them, and
 * never as an `in` list, whose length would change the SQL. A stand-in that ends up in the SQL
 * text instead of its parameters is refused on the first run.
 */
export function compiledOnce<V extends Record<string, unknown>, R>(
  build: (db: Kysely<Database>, values: V) => Compilable<R>,
): (db: Queryable, values: V) => Promise<QueryResult<R>> {
  let template: { sql: string; slots: ((values: V) => unknown)[] } | undefined;
  return async (db, values) => {
    template ??= compile(db, build);
    const parameters = template.slots.map((slot) => slot(values));
    return db.executeQuery<R>(CompiledQuery.raw(template.sql, parameters) as CompiledQuery<R>);
  };
}

function compile<V extends Record<string, unknown>, R>(
  db: Kysely<Database>,
  build: (db: Kysely<Database>, values: V) => Compilable<R>,
) {
  const standIns = new Proxy({} as V, { get: (_, key) => `${MARK}${String(key)}` });
  const { sql, parameters } = build(db, standIns).compile();
  if (sql.includes(MARK)) throw new Error('compiledOnce: a value was written into the SQL text');
  const slots = parameters.map((parameter): ((values: V) => unknown) => {
    if (typeof parameter === 'string' && parameter.startsWith(MARK)) {
      const key = parameter.slice(MARK.length);
      return (values) => values[key];
    }
    return () => parameter;
  });
  return { sql, slots };
}
