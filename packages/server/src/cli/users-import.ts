import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Kysely } from 'kysely';
import type { Clock } from '../core/clock.js';
import { type ImportCounts, importUsers } from '../core/user-import.js';
import type { Database } from '../store/schema.js';

export interface ImportOutput {
  /** Progress and the summary. */
  info(line: string): void;
  /** Rejected lines. */
  error(line: string): void;
}

/**
 * The `latchkey users import FILE` command without the process around it (tests call it):
 * streams the file line by line, reports progress, bad lines and the counts.
 */
export async function runUsersImport(
  file: string,
  db: Kysely<Database>,
  out: ImportOutput,
  clock: Clock = () => new Date(),
): Promise<ImportCounts> {
  const input = createReadStream(file, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  const started = Date.now();
  let reported = 0;
  const counts = await importUsers(db, lines, {
    clock,
    batchSize: 500,
    onRejected: (line, message) => out.error(`${file}:${line}: rejected: ${message}`),
    onProgress: (c) => {
      if (c.lines - reported < 1000) return;
      reported = c.lines;
      out.info(
        `… ${c.lines} lines: ${c.imported} imported, ${c.skipped} already present, ${c.rejected} rejected`,
      );
    },
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  out.info(
    `${counts.lines} lines in ${seconds} s: ${counts.imported} imported, ${counts.skipped} already present (skipped), ${counts.rejected} rejected`,
  );
  return counts;
}
