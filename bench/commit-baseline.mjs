// The refresh scenario's baseline: a bare Fastify route that commits one small UPDATE per
// request (BEGIN, UPDATE one row, COMMIT), through the same database stack as Latchkey (its own
// openPglite / openPostgres from the build: node-postgres, the same pool size, PGlite's options).
// A refresh is one short transaction, so this is the rate it could reach on this database.
//   node bench/commit-baseline.mjs <port> <postgres-url | pglite-data-dir>
import Fastify from 'fastify';
import { sql } from 'kysely';
import { openPglite, openPostgres } from '../packages/server/dist/store/database.js';

const [port, target] = process.argv.slice(2);
const ROWS = 256;
const handle = /^postgres(ql)?:/.test(target)
  ? openPostgres(target)
  : await openPglite({ dataDir: target });
const { db } = handle;
await sql`create table if not exists bench_commit (id integer primary key, n bigint not null)`.execute(
  db,
);
await sql`insert into bench_commit select g, 0 from generate_series(0, ${ROWS - 1}) g on conflict do nothing`.execute(
  db,
);

let next = 0;
const app = Fastify({ logger: false });
app.post('/commit', async () => {
  const id = next++ % ROWS; // concurrent requests touch different rows, as refreshes do
  const n = await db.transaction().execute(async (trx) => {
    const result =
      await sql`update bench_commit set n = n + 1 where id = ${id} returning n`.execute(trx);
    return result.rows[0].n;
  });
  return { id, n: String(n) };
});
await app.listen({ port: Number(port), host: '127.0.0.1' });
process.send?.({ ready: true });
process.on('SIGTERM', () => {
  void app
    .close()
    .then(() => handle.close())
    .then(() => process.exit(0));
});
