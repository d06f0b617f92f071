import type { Kysely } from 'kysely';
import { z } from 'zod';
import { recordAuditEvent } from '../store/audit.js';
import { emitWebhookEvent } from './webhooks.js';
import type { Database } from '../store/schema.js';
import { insertUserIfAbsent } from '../store/users.js';
import type { Clock } from './clock.js';
import { uuidv7 } from '../store/ids.js';
import { BCRYPT_HASH } from './passwords.js';

/**
 * `latchkey users import FILE.jsonl`: one JSON object per line (docs/account-flows.md),
 *
 *   {"email":"ada@example.com","name":"Ada","passwordHash":"$2b$10$…","emailVerified":true}
 *
 * Users whose email (case-insensitively) already exists are skipped, so a second run of the
 * same file changes nothing. A bad line is reported with its number and the rest go on.
 * bcrypt and argon2 hashes are stored as they are and upgraded at the user's next login.
 */

const ARGON2_HASH = /^\$argon2(id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

/** A line longer than this is refused before parsing. */
const MAX_LINE_LENGTH = 16 * 1024;

const importLine = z.strictObject({
  email: z
    .string('"email" is required')
    .trim()
    .max(254, '"email" has more than 254 characters')
    .pipe(z.email('"email" is not a valid email address')),
  name: z
    .string('"name" must be a string or null')
    .trim()
    .max(100, '"name" has more than 100 characters')
    .nullish()
    .transform((name) => (name ? name : null)),
  passwordHash: z
    .string('"passwordHash" must be a string or null')
    .refine(
      (hash) => BCRYPT_HASH.test(hash) || ARGON2_HASH.test(hash),
      '"passwordHash" is not a supported hash (bcrypt $2a$/$2b$/$2y$, or argon2 in PHC format)',
    )
    .nullish()
    .transform((hash) => hash ?? null),
  // 1 and 0 too: MySQL's json_object() writes booleans so.
  emailVerified: z
    .union([z.boolean(), z.literal(1), z.literal(0)], '"emailVerified" must be true or false')
    .default(false)
    .transform((value) => value === true || value === 1),
  // Without an offset (PostgreSQL `timestamp`, as Prisma and Sequelize create) it is UTC.
  createdAt: z.iso
    .datetime({ offset: true, local: true, error: '"createdAt" must be an ISO 8601 date-time' })
    .transform((value) => new Date(/(Z|[+-]\d{2}(:?\d{2})?)$/i.test(value) ? value : `${value}Z`))
    .refine((date) => !Number.isNaN(date.getTime()), '"createdAt" must be an ISO 8601 date-time')
    .optional(),
});

export type ImportedUser = z.output<typeof importLine>;

export type ParsedLine = { ok: true; user: ImportedUser } | { ok: false; message: string };

/** Validates one line of the file; the message says what is wrong, never echoing a hash. */
export function parseImportLine(text: string): ParsedLine {
  if (text.length > MAX_LINE_LENGTH) {
    return { ok: false, message: `longer than ${MAX_LINE_LENGTH} characters` };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, message: 'not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, message: 'not a JSON object' };
  }
  const parsed = importLine.safeParse(value);
  if (parsed.success) return { ok: true, user: parsed.data };
  const messages = parsed.error.issues.map((issue) =>
    issue.code === 'unrecognized_keys'
      ? `unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`
      : issue.message,
  );
  return { ok: false, message: messages.join('; ') };
}

export interface ImportCounts {
  /** Non-blank lines read. */
  lines: number;
  imported: number;
  /** The email already had an account (an earlier run, or an earlier line of this file). */
  skipped: number;
  rejected: number;
}

export interface ImportOptions {
  clock: Clock;
  /** A bad line: its 1-based number in the file and what is wrong. */
  onRejected?: (line: number, message: string) => void;
  /** Called after each batch with the counts so far. */
  onProgress?: (counts: ImportCounts) => void;
  batchSize?: number;
}

/** Imports users from JSON lines; returns the counts. */
export async function importUsers(
  db: Kysely<Database>,
  lines: AsyncIterable<string> | Iterable<string>,
  options: ImportOptions,
): Promise<ImportCounts> {
  const counts: ImportCounts = { lines: 0, imported: 0, skipped: 0, rejected: 0 };
  const batchSize = options.batchSize ?? 500;
  let batch: ImportedUser[] = [];

  const flush = async () => {
    if (batch.length === 0) return;
    const users = batch;
    batch = [];
    const now = options.clock();
    await db.transaction().execute(async (trx) => {
      for (const user of users) {
        const createdAt = user.createdAt ?? now;
        const id = uuidv7(now.getTime());
        const inserted = await insertUserIfAbsent(trx, {
          id,
          email: user.email,
          name: user.name,
          password_hash: user.passwordHash,
          email_verified_at: user.emailVerified ? now : null,
          disabled_at: null,
          password_changed_at: now,
          created_at: createdAt,
          updated_at: now,
        });
        if (!inserted) {
          counts.skipped++;
          continue;
        }
        counts.imported++;
        const scheme = user.passwordHash
          ? user.passwordHash.startsWith('$2')
            ? 'bcrypt'
            : 'argon2'
          : 'none';
        await recordAuditEvent(
          trx,
          { type: 'user.imported', userId: id, data: { passwordHash: scheme } },
          now,
        );
        await emitWebhookEvent(trx, 'user.created', { userId: id, data: { imported: true } }, now);
      }
    });
    options.onProgress?.({ ...counts });
  };

  let lineNumber = 0;
  for await (const raw of lines) {
    lineNumber++;
    const text = raw.trim();
    if (text === '') continue;
    counts.lines++;
    const parsed = parseImportLine(text);
    if (!parsed.ok) {
      counts.rejected++;
      options.onRejected?.(lineNumber, parsed.message);
      continue;
    }
    batch.push(parsed.user);
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  return counts;
}
