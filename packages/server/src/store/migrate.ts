import { type Kysely, sql } from 'kysely';
import { openPglite } from './database.js';
import { migrations as allMigrations, type Migration } from './migrations/index.js';
import type { Database } from './schema.js';

// Arbitrary constant shared by every Latchkey instance: one migrator at a time per database.
const MIGRATION_LOCK_ID = 0x4c4b_0001;

export interface MigrationResult {
  applied: { version: number; name: string }[];
  current: number;
}

/**
 * Applies pending migrations, each in its own transaction, under a session advisory lock so
 * that several instances starting together migrate once and the others wait, then see it done.
 */
export async function migrate(
  db: Kysely<Database>,
  options: { migrations?: Migration[]; onApply?: (m: Migration) => void } = {},
): Promise<MigrationResult> {
  const migrations = options.migrations ?? allMigrations;
  // A migration may rewrite a big table, and waits while another instance migrates.
  return db.connection().execute(async (conn) => {
    // The pool closes a connection without a statement timeout once released, so the setting
    // ends with it (PGlite has none to lift).
    await sql`set statement_timeout = 0`.execute(conn);
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_ID})`.execute(conn);
    try {
      await sql`
        create table if not exists schema_migrations (
          version integer primary key,
          name text not null,
          applied_at timestamptz not null default now()
        )`.execute(conn);
      const done = new Set(
        (await conn.selectFrom('schema_migrations').select('version').execute()).map(
          (r) => r.version,
        ),
      );
      const applied: MigrationResult['applied'] = [];
      for (const migration of migrations) {
        if (done.has(migration.version)) continue;
        options.onApply?.(migration);
        await conn.transaction().execute(async (trx) => {
          await migration.up(trx as unknown as Kysely<unknown>);
          await trx
            .insertInto('schema_migrations')
            .values({ version: migration.version, name: migration.name })
            .execute();
        });
        applied.push({ version: migration.version, name: migration.name });
      }
      const known = Math.max(0, ...migrations.map((m) => m.version));
      const newest = Math.max(0, ...done, ...applied.map((a) => a.version));
      if (newest > known) {
        throw new Error(
          `The database is at schema version ${newest} but this Latchkey knows only up to ${known}: upgrade Latchkey.`,
        );
      }
      return { applied, current: newest };
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`.execute(conn);
    }
  });
}

/**
 * A new embedded database with every migration applied, as a dumped data directory: the build's
 * initial data directory (INITIAL_DATA_DIR, gzipped) and the tests' snapshot (uncompressed).
 */
export async function migratedDataDir(compression: 'gzip' | 'none'): Promise<Blob> {
  const handle = await openPglite({ memory: true });
  try {
    await migrate(handle.db);
    return await handle.pglite.dumpDataDir(compression);
  } finally {
    await handle.close();
  }
}
