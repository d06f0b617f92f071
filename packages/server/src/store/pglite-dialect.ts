import type { PGlite } from '@electric-sql/pglite';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';

/**
 * Kysely straight on PGlite's query API.
 *
 * The embedded default used to reach PGlite through node-postgres (`pg.Pool` over PGlite's
 * wire-protocol emulation): every query was serialised to the wire protocol by pg, parsed back by
 * PGlite, and its answer the other way round, all on the event loop. Measured here, that doubled
 * the CPU of a query (`select 1` 0.92 ms against 0.47 ms; the sign-in's user lookup 1.95 ms
 * against 0.80 ms; docs/performance.md). Answers keep node-postgres's types (timestamps as Dates,
 * json parsed, arrays as arrays; 64-bit integers as strings with `pgliteParsers`).
 */
export class PgliteDialect implements Dialect {
  readonly driver: PgliteDriver;

  constructor(pglite: PGlite, waitMs = CONNECTION_WAIT_MS) {
    this.driver = new PgliteDriver(pglite, waitMs);
  }

  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return this.driver;
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kysely's own signature
  createIntrospector(db: Kysely<any>) {
    return new PostgresIntrospector(db);
  }
}

/** How long a query waits for a database connection (or PGlite's session) before failing. */
export const CONNECTION_WAIT_MS = 10_000;

/** node-postgres's type for 64-bit integers (strings); give it to `PGlite.create`. */
export const pgliteParsers = { 20: (value: string) => value };

/**
 * PGlite is one database session: callers take turns on it, a transaction from BEGIN to COMMIT
 * (as node-postgres's one-connection pool did).
 */
export class PgliteDriver implements Driver {
  private readonly connection: DatabaseConnection;
  private queue: Promise<void> = Promise.resolve();
  private release: (() => void) | undefined;
  /** Callers waiting for the session (the pool metrics). */
  waiting = 0;
  busy = false;

  constructor(
    pglite: PGlite,
    private readonly waitMs: number,
  ) {
    this.connection = {
      async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
        const result = await pglite.query<R>(compiled.sql, [...compiled.parameters], {
          rowMode: 'object',
        });
        return {
          rows: result.rows,
          ...(result.affectedRows !== undefined
            ? { numAffectedRows: BigInt(result.affectedRows) }
            : {}),
        };
      },
      streamQuery() {
        throw new Error('Streaming queries are not supported on the embedded database.');
      },
    };
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    let release!: () => void;
    const turn = new Promise<void>((resolve) => (release = resolve));
    const previous = this.queue;
    this.queue = previous.then(() => turn);
    this.waiting++;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      previous.then(() => 'turn' as const),
      new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), this.waitMs);
      }),
    ]);
    clearTimeout(timer);
    this.waiting--;
    if (outcome === 'timeout') {
      void previous.then(release); // pass the turn on as soon as it comes
      throw new Error(
        `Waited ${this.waitMs / 1000} s for the embedded database without getting it.`,
      );
    }
    this.busy = true;
    this.release = release;
    return this.connection;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings) {
    const modes = [
      settings.isolationLevel ? `isolation level ${settings.isolationLevel}` : '',
      settings.accessMode ?? '',
    ].filter(Boolean);
    await connection.executeQuery(CompiledQuery.raw(`begin ${modes.join(', ')}`.trim()));
  }

  async commitTransaction(connection: DatabaseConnection) {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection) {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(): Promise<void> {
    const release = this.release;
    this.release = undefined;
    this.busy = false;
    release?.();
  }

  async destroy(): Promise<void> {}
}
