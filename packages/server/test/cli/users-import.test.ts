import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hash as argon2Hash } from '@node-rs/argon2';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImportLine } from '../../src/core/user-import.js';
import { runUsersImport } from '../../src/cli/users-import.js';
import { ACCOUNT_TEST_ENV, loginStatus, uniqueEmail } from '../support/account.js';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';

describe('parseImportLine', () => {
  it('accepts the documented shape and defaults', () => {
    expect(parseImportLine('{"email":" ada@example.com "}')).toEqual({
      ok: true,
      user: { email: 'ada@example.com', name: null, passwordHash: null, emailVerified: false },
    });
  });
  it('reads what exports from PostgreSQL and MySQL produce', () => {
    const line = (extra: object) =>
      parseImportLine(JSON.stringify({ email: 'a@example.com', ...extra }));
    expect(line({ emailVerified: 1 })).toMatchObject({ user: { emailVerified: true } });
    expect(line({ emailVerified: 0 })).toMatchObject({ user: { emailVerified: false } });
    // PostgreSQL `timestamp` (no zone, Prisma's default) is taken as UTC; offsets are honoured.
    const at = (createdAt: string) => {
      const parsed = line({ createdAt });
      return parsed.ok ? parsed.user.createdAt?.toISOString() : parsed.message;
    };
    expect(at('2021-03-04T05:06:07.123')).toBe('2021-03-04T05:06:07.123Z');
    expect(at('2021-03-04T05:06:07+02:00')).toBe('2021-03-04T03:06:07.000Z');
    expect(at('2021-03-04T05:06:07Z')).toBe('2021-03-04T05:06:07.000Z');
  });

  it('says what is wrong, without echoing a hash', () => {
    const secretish = '$2x$10$abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzA';
    const bad = parseImportLine(
      JSON.stringify({ email: 'a@example.com', passwordHash: secretish }),
    );
    expect(bad).toEqual({ ok: false, message: expect.stringMatching(/not a supported hash/) });
    expect(JSON.stringify(bad)).not.toContain(secretish);
    expect(parseImportLine('{"email":"a@example.com","password_hash":"x"}')).toEqual({
      ok: false,
      message: 'unknown field(s) "password_hash"',
    });
    expect(parseImportLine('[1]')).toEqual({ ok: false, message: 'not a JSON object' });
    expect(parseImportLine('{"email":')).toEqual({ ok: false, message: 'not valid JSON' });
    expect(parseImportLine('{"name":"x"}')).toMatchObject({ ok: false });
    expect(parseImportLine('{"email":"a@example.com","createdAt":"yesterday"}')).toEqual({
      ok: false,
      message: '"createdAt" must be an ISO 8601 date-time',
    });
    expect(parseImportLine('{"email":"a@example.com","emailVerified":"yes"}')).toMatchObject({
      ok: false,
      message: '"emailVerified" must be true or false',
    });
  });
});

describe.each(backends)('latchkey users import on %s', (backend) => {
  let t: TestApp;
  let dir: string;
  beforeAll(async () => {
    t = await createTestApp(backend, ACCOUNT_TEST_ENV);
    dir = mkdtempSync(join(tmpdir(), 'latchkey-import-'));
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function run(lines: string[]) {
    const file = join(dir, `${uniqueEmail('f')}.jsonl`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    const info: string[] = [];
    const errors: string[] = [];
    const counts = await runUsersImport(
      file,
      t.database.db,
      { info: (l) => info.push(l), error: (l) => errors.push(l) },
      t.clock.now,
    );
    return { file, counts, info, errors };
  }

  it('imports the good lines, reports each bad one with its line number, and is idempotent', async () => {
    const bcryptUser = uniqueEmail('express');
    const argonUser = uniqueEmail('argon');
    const noHash = uniqueEmail('nohash');
    const bcrypt = await bcryptHash(STRONG_PASSWORD, { cost: 4 });
    const argon = await argon2Hash(STRONG_PASSWORD, { algorithm: 2, memoryCost: 8192 });
    const lines = [
      JSON.stringify({ email: bcryptUser, name: 'Ada', passwordHash: bcrypt, emailVerified: true }),
      '{"email": "broken@example.com", ', // 2: not JSON
      '', // 3: blank, ignored
      JSON.stringify({
        email: argonUser,
        passwordHash: argon,
        emailVerified: true,
        createdAt: '2021-03-04T05:06:07Z',
      }),
      JSON.stringify({ email: 'not-an-email', passwordHash: bcrypt }), // 5
      JSON.stringify({ email: uniqueEmail('plain'), passwordHash: 'hunter2' }), // 6
      JSON.stringify({ email: noHash }),
      JSON.stringify({ email: bcryptUser.toUpperCase(), passwordHash: bcrypt }), // 8: duplicate
    ];
    const first = await run(lines);
    expect(first.counts).toEqual({ lines: 7, imported: 3, skipped: 1, rejected: 3 });
    expect(first.errors).toEqual([
      `${first.file}:2: rejected: not valid JSON`,
      `${first.file}:5: rejected: "email" is not a valid email address`,
      `${first.file}:6: rejected: "passwordHash" is not a supported hash (bcrypt $2a$/$2b$/$2y$, or argon2 in PHC format)`,
    ]);
    expect(first.info.at(-1)).toMatch(
      /^7 lines in [\d.]+ s: 3 imported, 1 already present \(skipped\), 3 rejected$/,
    );
    expect(first.errors.join('\n')).not.toContain('hunter2');

    const rows = await t.database.db
      .selectFrom('users')
      .select(['email', 'name', 'email_verified_at', 'created_at', 'password_hash'])
      .where('email', 'in', [bcryptUser, argonUser, noHash])
      .orderBy('email')
      .execute();
    const byEmail = new Map(rows.map((r) => [r.email, r]));
    expect(byEmail.get(bcryptUser)).toMatchObject({ name: 'Ada', password_hash: bcrypt });
    expect(byEmail.get(bcryptUser)?.email_verified_at).toBeInstanceOf(Date);
    expect(byEmail.get(argonUser)?.created_at.toISOString()).toBe('2021-03-04T05:06:07.000Z');
    expect(byEmail.get(noHash)).toMatchObject({ password_hash: null, email_verified_at: null });

    // Idempotent: the same file again changes nothing.
    const second = await run(lines);
    expect(second.counts).toEqual({ lines: 7, imported: 0, skipped: 4, rejected: 3 });

    // The imported users sign in with their old passwords (bcrypt and older argon2 params);
    // the one without a hash cannot until a reset.
    expect(await loginStatus(t, bcryptUser, STRONG_PASSWORD)).toBe(200);
    expect(await loginStatus(t, argonUser, STRONG_PASSWORD)).toBe(200);
    expect(await loginStatus(t, noHash, STRONG_PASSWORD)).toBe(401);

    const audit = await t.database.db
      .selectFrom('audit_events')
      .select(['type', 'data'])
      .where('type', '=', 'user.imported')
      .execute();
    expect(audit.length).toBeGreaterThanOrEqual(3);
    expect(JSON.stringify(audit)).not.toContain(bcrypt);
  });

  it('reports progress on long files', async () => {
    const lines = Array.from({ length: 1200 }, (_, i) =>
      JSON.stringify({ email: `bulk-${i}-${uniqueEmail('b')}` }),
    );
    const { counts, info } = await run(lines);
    expect(counts).toEqual({ lines: 1200, imported: 1200, skipped: 0, rejected: 0 });
    expect(info.some((l) => /^… 1000 lines: 1000 imported/.test(l))).toBe(true);
  });
});
