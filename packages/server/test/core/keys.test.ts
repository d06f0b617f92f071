import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { deriveEncryptionKeys, seal, unseal } from '../../src/core/keys.js';
import { KEY_FILE_NAME, resolveKeyEncryptionSecret } from '../../src/config/key-file.js';
import type { DatabaseHandle } from '../../src/store/database.js';
import { createSigningKeyStore, rotateSigningKey } from '../../src/app/token-mode.js';
import { backends, createTestDatabase } from '../support/db.js';

const SECRET = 'a-test-secret-of-at-least-thirty-two-chars';

describe('sealing (AES-256-GCM with a key derived from KEY_ENCRYPTION_SECRET)', () => {
  const keys = deriveEncryptionKeys(SECRET);

  it('round-trips, and fails with another key, another context or a flipped byte', () => {
    const sealed = seal(keys.signingKeys, 'private jwk', 'kid-1');
    expect(sealed).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(sealed).not.toContain('private');
    expect(unseal(keys.signingKeys, sealed, 'kid-1')).toBe('private jwk');
    expect(() => unseal(keys.refreshSuccessors, sealed, 'kid-1')).toThrow();
    expect(() => unseal(deriveEncryptionKeys(`${SECRET}!`).signingKeys, sealed, 'kid-1')).toThrow();
    expect(() => unseal(keys.signingKeys, sealed, 'kid-2')).toThrow();
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3] as string, 'base64url');
    body[0] = (body[0] as number) ^ 1;
    parts[3] = body.toString('base64url');
    expect(() => unseal(keys.signingKeys, parts.join('.'), 'kid-1')).toThrow();
  });

  it('derives different keys per purpose', () => {
    expect(keys.signingKeys.equals(keys.refreshSuccessors)).toBe(false);
    expect(keys.signingKeys).toHaveLength(32);
  });
});

describe('the key-encryption secret', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-kek-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is generated once into DATA_DIR with mode 0600 and read back on later starts', () => {
    const dataDir = join(dir, 'data');
    const first = resolveKeyEncryptionSecret({ dataDir, jwt: { keyEncryptionSecret: undefined } });
    expect(first.source).toBe('generated');
    const path = join(dataDir, KEY_FILE_NAME);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8').trim()).toBe(first.secret);
    expect(first.secret.length).toBeGreaterThanOrEqual(43);
    const second = resolveKeyEncryptionSecret({ dataDir, jwt: { keyEncryptionSecret: undefined } });
    expect(second).toMatchObject({ source: 'file', secret: first.secret });
  });

  it('tightens a key file that others can read', () => {
    const dataDir = join(dir, 'loose');
    resolveKeyEncryptionSecret({ dataDir, jwt: { keyEncryptionSecret: undefined } });
    const path = join(dataDir, KEY_FILE_NAME);
    writeFileSync(path, `${'x'.repeat(40)}\n`, { mode: 0o644 });
    chmodSync(path, 0o644);
    resolveKeyEncryptionSecret({ dataDir, jwt: { keyEncryptionSecret: undefined } });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('comes from KEY_ENCRYPTION_SECRET when set, and no file is written', () => {
    const dataDir = join(dir, 'env');
    const resolved = resolveKeyEncryptionSecret({ dataDir, jwt: { keyEncryptionSecret: SECRET } });
    expect(resolved).toEqual({ secret: SECRET, source: 'env' });
  });

  it('is required in production with DATABASE_URL, and must be long enough', () => {
    const production = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://db.example.com/latchkey',
      PUBLIC_URL: 'https://auth.example.com',
      SMTP_URL: 'smtp://mail.example.com:587',
      METRICS_TOKEN: 'a-metrics-token-of-some-length',
    };
    expect(() => loadConfig(production)).toThrow(/KEY_ENCRYPTION_SECRET is required/);
    expect(loadConfig({ ...production, KEY_ENCRYPTION_SECRET: SECRET }).jwt).toMatchObject({
      issuer: 'https://auth.example.com',
      audience: 'https://auth.example.com',
      accessTtlSeconds: 600,
      reuseGraceSeconds: 10,
    });
    expect(() => loadConfig({ KEY_ENCRYPTION_SECRET: 'short' })).toThrow(ConfigError);
    expect(() => loadConfig({ KEY_ENCRYPTION_SECRET: 'short' })).toThrow(/KEY_ENCRYPTION_SECRET/);
    // Development with PostgreSQL falls back to the key file (one instance).
    expect(() => loadConfig({ DATABASE_URL: 'postgres://localhost/latchkey' })).not.toThrow();
    expect(
      loadConfig({
        ACCESS_TOKEN_TTL: '5m',
        ACCESS_TOKEN_AUDIENCE: 'api',
        REFRESH_REUSE_GRACE_SECONDS: '0',
      }).jwt,
    ).toMatchObject({ accessTtlSeconds: 300, audience: 'api', reuseGraceSeconds: 0 });
    expect(() => loadConfig({ ACCESS_TOKEN_TTL: '2d' })).toThrow(/ACCESS_TOKEN_TTL/);
  });
});

describe.each(backends)('signing keys in the database on %s', (backend) => {
  let handle: DatabaseHandle;
  const config = loadConfig({ KEY_ENCRYPTION_SECRET: SECRET, PUBLIC_URL: 'http://localhost:3000' });
  beforeAll(async () => {
    handle = await createTestDatabase(backend);
  });
  afterAll(() => handle.close());

  it('creates one first key even when several instances start together', async () => {
    const stores = Array.from(
      { length: 3 },
      () => createSigningKeyStore(config, handle.db, () => new Date()).keys,
    );
    await Promise.all(stores.map((s) => s.ensureCurrentKey()));
    const rows = await handle.db.selectFrom('signing_keys').selectAll().execute();
    expect(rows).toHaveLength(1);
    const kids = await Promise.all(stores.map(async (s) => (await s.currentKey()).kid));
    expect(new Set(kids)).toEqual(new Set([rows[0]?.kid]));
  });

  it('rotates from another process (the CLI): the server signs with the new key after a reload', async () => {
    const server = createSigningKeyStore(config, handle.db, () => new Date()).keys;
    const before = (await server.currentKey()).kid;
    const { kid, previousKid } = await rotateSigningKey(config, handle.db, () => new Date());
    expect(previousKid).toBe(before);
    // Until it reads the table again the server still signs with the old key, which stays valid.
    expect((await server.currentKey()).kid).toBe(before);
    // An unknown kid makes it read again at once (at most once a second).
    await new Promise((r) => setTimeout(r, 1100));
    expect(await server.verificationKey(kid)).toBeDefined();
    expect((await server.currentKey()).kid).toBe(kid);
    expect((await server.jwks()).keys.map((k) => k.kid)).toEqual([kid, before]);
  });

  it("reads the table again when its cache has aged by the server's clock", async () => {
    let now = Date.now();
    const server = createSigningKeyStore(config, handle.db, () => new Date(now)).keys;
    const before = (await server.currentKey()).kid;
    const { kid } = await rotateSigningKey(config, handle.db, () => new Date(now));
    expect((await server.currentKey()).kid).toBe(before);
    now += 61_000; // past the 60 s cache, by the injected clock alone
    expect((await server.currentKey()).kid).toBe(kid);
  });

  it('refuses to open the keys with another secret', async () => {
    const other = loadConfig({ KEY_ENCRYPTION_SECRET: `${SECRET}-other` });
    const store = createSigningKeyStore(other, handle.db, () => new Date()).keys;
    await expect(store.currentKey()).rejects.toThrow(/cannot be decrypted: KEY_ENCRYPTION_SECRET/);
  });
});
