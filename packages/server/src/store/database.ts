import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { secureDataDir } from './data-dir.js';
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

/** A PostgreSQL server (production, CI). */
export function openPostgres(url: string, options: { poolMax?: number } = {}): DatabaseHandle {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolMax ?? 10,
    // A query that cannot get a connection fails instead of waiting for ever.
    connectionTimeoutMillis: CONNECTION_WAIT_MS,
  });
  // An idle client dropped by the server must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return Object.assign(
    wrap(db, 'postgres', () => db.destroy()),
    { listen: pgListen(url), poolStats: poolStats(pool) },
  );
}

/**
 * PGlite in-process. `dataDir` persists to disk (guarded by a pid lock file, since two
 * processes on one PGlite directory would corrupt it); `snapshot` starts from a dumped data
 * directory in memory (tests).
 */
export async function openPglite(
  options: { dataDir: string } | { snapshot: Blob } | { memory: true },
): Promise<DatabaseHandle & { pglite: PGlite }> {
  let releaseLock = () => {};
  let pglite: PGlite;
  if ('dataDir' in options) {
    const { dataDir } = options;
    secureDataDir(dataDir);
    releaseLock = acquireDirLock(dataDir);
    try {
      pglite = await PGlite.create({ dataDir: join(dataDir, 'pglite'), ...PGLITE_OPTIONS });
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
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
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

export function openDatabase(config: {
  databaseUrl: string | undefined;
  dataDir: string;
}): Promise<DatabaseHandle> | DatabaseHandle {
  return config.databaseUrl
    ? openPostgres(config.databaseUrl)
    : openPglite({ dataDir: config.dataDir });
}
