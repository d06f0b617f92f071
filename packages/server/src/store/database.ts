import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import { Kysely, PostgresDialect, type PostgresPool, type PostgresPoolClient, sql } from 'kysely';
import pg from 'pg';
import { secureDataDir } from './data-dir.js';
import { INITIAL_DATA_DIR, unpackDataDir } from './initial-data-dir.js';
import { type Listen, pgListen, pgliteListen } from './listen.js';
import type { Database } from './schema.js';

export interface DatabaseHandle {
  db: Kysely<Database>;
  kind: 'pglite' | 'postgres';
  /** Throws when the database cannot answer a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
  /** LISTEN/NOTIFY on a connection of its own (session-cache invalidation across instances). */
  listen?: Listen;
  /** Connections of the pool (metrics). */
  poolStats?: () => { total: number; idle: number; waiting: number };
}

function poolStats(pool: pg.Pool) {
  return () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount });
}

export class DatabaseInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `The embedded database in ${dataDir} is in use by process ${pid} (a running Latchkey server?). ` +
        'Stop that process first, or point DATABASE_URL at a PostgreSQL server, which many processes can share.',
    );
    this.name = 'DatabaseInUseError';
  }
}

// PGlite's defaults (128MB shared buffers) triple the resident memory for no gain at the
// sizes an embedded deployment sees.
const PGLITE_CONF = ['shared_buffers=16MB', 'work_mem=2MB', 'maintenance_work_mem=16MB'];
const PGLITE_OPTIONS = { postgresqlconf: PGLITE_CONF };

/**
 * Unpacks the initial data directory as `pgdata`; a missing or broken file costs a slower first
 * start (initdb), not a failed one.
 */
function unpackInitialDataDir(archive: string, pgdata: string, log: (message: string) => void) {
  try {
    unpackDataDir(archive, pgdata);
  } catch (error) {
    log(
      `The embedded database's initial data directory ${archive} could not be used (${(error as Error).message}): creating the database with initdb instead, which takes longer and more memory.`,
    );
  }
}

/** How long a query waits for a database connection before failing instead of hanging. */
const CONNECTION_WAIT_MS = 10_000;

function wrap(db: Kysely<Database>, kind: DatabaseHandle['kind'], close: () => Promise<void>) {
  return {
    db,
    kind,
    async ping() {
      await sql`select 1`.execute(db);
    },
    close,
  } satisfies DatabaseHandle;
}

/** How long PostgreSQL may take before a request gives up on it (DATABASE_* variables). */
export interface PostgresTimeouts {
  /** Longest statement: PostgreSQL's statement_timeout, and (plus a grace) the client's wait. */
  statementTimeoutMs: number;
  /** Longest wait for a pooled connection, including opening a new one. */
  poolTimeoutMs: number;
}

export const DEFAULT_POSTGRES_TIMEOUTS: PostgresTimeouts = {
  statementTimeoutMs: 5000,
  poolTimeoutMs: 3000,
};

// A server that is alive cancels a long statement itself (a clean 57014); the client-side
// bound waits a little longer, so it only fires for a server that does not answer at all.
const ANSWER_GRACE_MS = 1000;

/** A query that got no answer in time: the server is frozen or the network to it is gone. */
export class DatabaseTimeoutError extends Error {
  readonly code = 'LATCHKEY_DB_NO_ANSWER';
  constructor(ms: number) {
    super(`PostgreSQL did not answer within ${ms} ms`);
    this.name = 'DatabaseTimeoutError';
  }
}

/**
 * A connection that turns its statement timeout off (`set statement_timeout = 0`, as migrations
 * do) drops the client-side bound as well, and is closed rather than reused when released. A
 * statement rather than an AsyncLocalStorage flag: async context tracking would slow every
 * promise of the process.
 */
const UNBOUND_STATEMENT = /^\s*set\s+statement_timeout\s*=\s*0\s*;?\s*$/i;

// SQLSTATEs of a server that is going away, starting, or cancelled a statement for taking too
// long, or refuses connections for now: all pass with time.
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '57014', '53300']);
const UNAVAILABLE_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'LATCHKEY_DB_NO_ANSWER',
]);
// node-postgres and pg-pool report these without a code.
const UNAVAILABLE_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/**
 * True when `error` means "PostgreSQL cannot answer right now" (stopped, restarting, frozen,
 * unreachable, or the pool exhausted for longer than its wait) rather than a bug or bad data:
 * worth a 503 with Retry-After, not a 500.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const { code, message, errors, cause } = e as {
      code?: unknown;
      message?: unknown;
      errors?: unknown;
      cause?: unknown;
    };
    if (typeof code === 'string') {
      if (UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_ERRNOS.has(code)) return true;
      if (/^08[0-9A-Z]{3}$/.test(code)) return true;
    }
    if (typeof message === 'string' && UNAVAILABLE_MESSAGES.test(message)) return true;
    // A refused connection to a host with several addresses is an AggregateError.
    if (Array.isArray(errors) && errors.some((inner) => isDatabaseUnavailable(inner))) return true;
    e = cause;
  }
  return false;
}

/**
 * The pool as Kysely sees it, with every statement bounded on the client side too: a frozen
 * server never answers, so its own statement_timeout cannot help. A connection whose query timed
 * out (or that failed while checked out) is destroyed on release rather than reused, and
 * refuses further queries at once (a transaction's ROLLBACK must not wait a second time).
 */
function boundedPool(pool: pg.Pool, statementTimeoutMs: number): PostgresPool {
  const answerMs = statementTimeoutMs + ANSWER_GRACE_MS;
  return {
    async connect() {
      let free = false;
      const client = await pool.connect();
      let broken: Error | undefined;
      // A checked-out connection that drops between queries emits 'error'; unheard, it would
      // crash the process.
      const onError = (error: Error) => {
        broken ??= error;
      };
      client.on('error', onError);
      const query = (text: unknown, parameters?: unknown[]) => {
        if (broken) return Promise.reject(broken);
        if (typeof text === 'string' && UNBOUND_STATEMENT.test(text)) free = true;
        // A cursor (streaming) is not bounded here; nothing on a request path streams.
        if (free || typeof text !== 'string') {
          return (client.query as (...args: unknown[]) => unknown)(text, parameters);
        }
        const running = client.query(text, parameters);
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            broken = new DatabaseTimeoutError(answerMs);
            reject(broken);
          }, answerMs);
        });
        running.catch(() => {}); // its late failure, once destroyed, is nobody's
        return Promise.race([running, timeout]).finally(() => clearTimeout(timer));
      };
      return {
        query: query as unknown as PostgresPoolClient['query'],
        release() {
          client.removeListener('error', onError);
          // Destroyed rather than reused: broken, or left without a statement timeout.
          client.release(broken ?? free);
        },
      };
    },
    end: () => pool.end(),
  };
}

/** Statements kept prepared at most: plans live in PGlite's memory, which never shrinks. */
const PREPARED_MAX = 300;
const PREPARABLE = /^\s*(select|insert|update|delete|with)\b/i;

/**
 * PGlite plans every statement in WASM on the event loop, and planning a join costs more than
 * running it (the session lookup: about 1 ms against 0.2 ms once prepared). Statements that come
 * back are prepared once, by name, and their plans reused. PGlite only: its database belongs to
 * this one process, so no other instance changes the schema under a cached plan, as a rolling
 * upgrade could on PostgreSQL ("cached plan must not change result type").
 */
function preparingPool(pool: pg.Pool): PostgresPool {
  // Text → its statement's name once seen twice (null: seen once); one-off texts stay unnamed.
  const names = new Map<string, string | null>();
  let prepared = 0;
  const nameFor = (text: string): string | undefined => {
    const known = names.get(text);
    if (known) return known;
    if (names.size >= PREPARED_MAX && known === undefined) return undefined;
    if (known === undefined) {
      names.set(text, null);
      return undefined;
    }
    const name = `latchkey_${++prepared}`;
    names.set(text, name);
    return name;
  };
  return {
    async connect() {
      const client = await pool.connect();
      const query = (text: unknown, values?: unknown[]) => {
        const name = typeof text === 'string' && PREPARABLE.test(text) ? nameFor(text) : undefined;
        if (!name) return (client.query as (...args: unknown[]) => unknown)(text, values);
        return client.query({ name, text: text as string, values }).catch((error: unknown) => {
          // A schema change in this process (a migration) invalidated the plan: prepare anew.
          if ((error as { code?: string }).code === '0A000') names.delete(text as string);
          throw error;
        });
      };
      return {
        query: query as unknown as PostgresPoolClient['query'],
        release: () => client.release(),
      };
    },
    end: () => pool.end(),
  };
}

/** A PostgreSQL server (production, CI). */
export function openPostgres(
  url: string,
  options: { poolMax?: number; timeouts?: PostgresTimeouts } = {},
): DatabaseHandle {
  const timeouts = options.timeouts ?? DEFAULT_POSTGRES_TIMEOUTS;
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolMax ?? 10,
    // A query that cannot get a connection fails instead of waiting: a frozen server must give
    // quick 503s, not a pile of requests waiting on it.
    connectionTimeoutMillis: timeouts.poolTimeoutMs,
    statement_timeout: timeouts.statementTimeoutMs,
  });
  // An idle client dropped by the server must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: boundedPool(pool, timeouts.statementTimeoutMs) }),
  });
  return Object.assign(
    wrap(db, 'postgres', () => db.destroy()),
    { listen: pgListen(url), poolStats: poolStats(pool) },
  );
}

/** Where a message about the embedded database goes by default (the CLI's commands). */
const logToStderr = (message: string) => console.error(`latchkey: ${message}`);

/**
 * PGlite in-process. `dataDir` persists to disk (guarded by a pid lock file, since two
 * processes on one PGlite directory would corrupt it) and starts empty from `initialDataDir`
 * (default: the one the build made); `snapshot` starts from a dumped data directory in memory
 * (tests).
 */
export async function openPglite(
  options:
    | { dataDir: string; initialDataDir?: string; log?: (message: string) => void }
    | { snapshot: Blob }
    | { memory: true },
): Promise<DatabaseHandle & { pglite: PGlite }> {
  // V8 compiles PGlite's WebAssembly (9 MB) with its baseline compiler, then recompiles the hot
  // functions with its optimizing one, whose compile threads keep some 40 MB of memory for good.
  // The baseline code alone answers Latchkey's short queries at about the same CPU cost: their
  // time goes to the JavaScript around PGlite rather than to PostgreSQL. Read at compile time,
  // so it must precede PGlite.create; the process has no other WebAssembly worth optimizing.
  setFlagsFromString('--liftoff-only');
  let releaseLock = () => {};
  let pglite: PGlite;
  if ('dataDir' in options) {
    const { dataDir } = options;
    secureDataDir(dataDir);
    releaseLock = acquireDirLock(dataDir);
    try {
      const pgdata = join(dataDir, 'pglite');
      // A directory without PG_VERSION is an initdb stopped half-way: PGlite redoes it.
      if (!existsSync(pgdata)) {
        unpackInitialDataDir(
          options.initialDataDir ?? INITIAL_DATA_DIR,
          pgdata,
          options.log ?? logToStderr,
        );
      }
      pglite = await PGlite.create({ dataDir: pgdata, ...PGLITE_OPTIONS });
      secureDataDir(dataDir);
    } catch (error) {
      releaseLock();
      throw error;
    }
    const release = releaseLock;
    releaseLock = () => {
      release();
      // Files PGlite added while running were only protected by the directory until now.
      secureDataDir(dataDir);
    };
  } else if ('snapshot' in options) {
    pglite = await PGlite.create({ loadDataDir: options.snapshot, ...PGLITE_OPTIONS });
  } else {
    pglite = await PGlite.create(PGLITE_OPTIONS);
  }
  // PGlite is one session: node-postgres's one-connection pool makes callers take turns.
  const pool = new pg.Pool({
    ...createPgConfig(pglite),
    connectionTimeoutMillis: CONNECTION_WAIT_MS,
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: preparingPool(pool) }) });
  return Object.assign(
    wrap(db, 'pglite', async () => {
      await db.destroy();
      await pglite.close();
      releaseLock();
    }),
    { pglite, listen: pgliteListen(pglite), poolStats: poolStats(pool) },
  );
}

/** Takes `DATA_DIR/latchkey.pid` exclusively; a lock left by a dead process is taken over. */
function acquireDirLock(dataDir: string): () => void {
  const lockPath = join(dataDir, 'latchkey.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(lockPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(lockPath, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new DatabaseInUseError(dataDir, pid);
      }
      rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`Could not take the lock ${lockPath}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `log` receives what an operator should know about the embedded database (default: stderr). */
export function openDatabase(
  config: {
    databaseUrl: string | undefined;
    dataDir: string;
    databaseTimeouts?: PostgresTimeouts;
  },
  log?: (message: string) => void,
): Promise<DatabaseHandle> | DatabaseHandle {
  return config.databaseUrl
    ? openPostgres(
        config.databaseUrl,
        config.databaseTimeouts ? { timeouts: config.databaseTimeouts } : {},
      )
    : openPglite({ dataDir: config.dataDir, log });
}

/**
 * VACUUM of the given tables: makes the space of deleted rows reusable and drops their index
 * entries. PostgreSQL's autovacuum does this on its own; PGlite runs no autovacuum (one
 * single-user backend), so without this its tables and indexes only ever grow.
 */
export async function vacuumTables(db: Kysely<Database>, tables: (keyof Database)[]) {
  if (tables.length === 0) return;
  await sql`vacuum ${sql.join(tables.map((t) => sql.table(t)))}`.execute(db);
}
