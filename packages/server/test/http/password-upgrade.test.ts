import { hash as argon2Hash } from '@node-rs/argon2';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importUsers } from '../../src/core/user-import.js';
import {
  ACCOUNT_TEST_ENV,
  auditOf,
  loginStatus,
  uniqueEmail,
  verifiedUser,
} from '../support/account.js';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';

const CURRENT = /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/;

describe.each(backends)('password hash upgrades on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend, ACCOUNT_TEST_ENV);
  });
  afterAll(() => t.close());

  const storedHash = async (email: string) =>
    (
      await t.database.db
        .selectFrom('users')
        .select('password_hash')
        .where('email', '=', email)
        .executeTakeFirstOrThrow()
    ).password_hash;

  it('re-hashes a hash made with older argon2 parameters at the next login', async () => {
    const { email, id } = await verifiedUser(t, 'old-params');
    // argon2id with weaker parameters, as an older configuration would have made it.
    const old = await argon2Hash(STRONG_PASSWORD, {
      algorithm: 2,
      memoryCost: 8192,
      timeCost: 1,
      parallelism: 1,
    });
    await t.database.db
      .updateTable('users')
      .set({ password_hash: old })
      .where('id', '=', id)
      .execute();
    expect(await storedHash(email)).toBe(old);
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
    const upgraded = await storedHash(email);
    expect(upgraded).not.toBe(old);
    expect(upgraded).toMatch(CURRENT);
    // Still the same password, and left alone at the following login.
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
    expect(await storedHash(email)).toBe(upgraded);
    expect((await auditOf(t, id)).text).not.toContain(old);
  });

  it('does not re-hash after a failed login', async () => {
    const { email, id } = await verifiedUser(t, 'old-failed');
    const old = await argon2Hash(STRONG_PASSWORD, { algorithm: 2, memoryCost: 8192, timeCost: 1 });
    await t.database.db
      .updateTable('users')
      .set({ password_hash: old })
      .where('id', '=', id)
      .execute();
    expect(await loginStatus(t, email, 'not the right passphrase at all')).toBe(401);
    expect(await storedHash(email)).toBe(old);
  });

  it.each(['2a', '2b', '2y'])(
    'imports a $%s$ bcrypt hash, signs in with it and upgrades it to argon2id',
    async (version) => {
      const email = uniqueEmail(`bcrypt-${version}`);
      const made = await bcryptHash(STRONG_PASSWORD, { cost: 4 });
      const imported = made.replace(/^\$2b\$/, `$${version}$`);
      const counts = await importUsers(
        t.database.db,
        [JSON.stringify({ email, name: 'Imported', passwordHash: imported, emailVerified: true })],
        { clock: t.clock.now },
      );
      expect(counts).toEqual({ lines: 1, imported: 1, skipped: 0, rejected: 0 });
      expect(await storedHash(email)).toBe(imported);

      expect(await loginStatus(t, email, 'not the right passphrase at all')).toBe(401);
      expect(await storedHash(email)).toBe(imported);
      expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
      const upgraded = await storedHash(email);
      expect(upgraded).toMatch(CURRENT);
      expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(200);
    },
  );

  it('verifies bcrypt inside the bounded hashing queue', async () => {
    const email = uniqueEmail('queue');
    const made = await bcryptHash(STRONG_PASSWORD, { cost: 4 });
    await importUsers(t.database.db, [JSON.stringify({ email, passwordHash: made })], {
      clock: t.clock.now,
    });
    const stored = (await storedHash(email)) as string;
    const pending = t.hasher.verify(stored, STRONG_PASSWORD);
    expect(t.hasher.stats.active).toBe(1);
    expect(await pending).toBe(true);
    expect(t.hasher.stats.active).toBe(0);
    expect(await t.hasher.verify(stored.replace(/^\$2b\$/, '$2x$'), STRONG_PASSWORD)).toBe(false);
  });

  it('an imported unverified user signs in only after verifying (403 after the right password)', async () => {
    const email = uniqueEmail('unverified-import');
    const made = await bcryptHash(STRONG_PASSWORD, { cost: 4 });
    await importUsers(t.database.db, [JSON.stringify({ email, passwordHash: made })], {
      clock: t.clock.now,
    });
    expect(await loginStatus(t, email, STRONG_PASSWORD)).toBe(403);
  });
});
