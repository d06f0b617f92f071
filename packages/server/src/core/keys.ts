import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hkdfSync,
  type JsonWebKey,
  type KeyObject,
  randomBytes,
  sign,
} from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import {
  findCurrentSigningKey,
  insertSigningKey,
  listPublishedSigningKeys,
  lockSigningKeys,
  retireCurrentSigningKey,
} from '../store/signing-keys.js';
import { addSeconds, type Clock } from './clock.js';

/** The one algorithm of access tokens: EdDSA over Ed25519. Verifiers pin it. */
export const ACCESS_TOKEN_ALG = 'EdDSA';

/**
 * Keys derived from KEY_ENCRYPTION_SECRET with HKDF-SHA256: one per purpose, so a ciphertext
 * made for one purpose never opens as another.
 */
export interface EncryptionKeys {
  signingKeys: Buffer;
  /** HMAC key deriving each refresh token's successor from it (core/tokens.ts). */
  refreshSuccessors: Buffer;
  /** HMAC key of the device cookies (core/device-cookies.ts). */
  deviceCookies: Buffer;
  /** Seals the webhook endpoints' signing secrets (core/webhooks.ts). */
  webhookSecrets: Buffer;
  /** Encrypts the authenticator-app secrets (core/factors.ts). */
  totpSecrets: Buffer;
  /** HMAC key of the stored recovery codes: the database alone cannot test a guess. */
  recoveryCodes: Buffer;
}

export function deriveEncryptionKeys(secret: string): EncryptionKeys {
  const derive = (info: string) =>
    Buffer.from(hkdfSync('sha256', secret, 'latchkey-kek-v1', info, 32));
  return {
    signingKeys: derive('signing-keys'),
    refreshSuccessors: derive('refresh-successors'),
    deviceCookies: derive('device-cookies'),
    webhookSecrets: derive('webhook-secrets'),
    totpSecrets: derive('totp-secrets'),
    recoveryCodes: derive('recovery-codes'),
  };
}

/**
 * AES-256-GCM: `v1.<iv>.<tag>.<ciphertext>` in base64url. `context` (a key id, a row id) is
 * authenticated data: a ciphertext copied to another row does not open there.
 */
export function seal(key: Buffer, plaintext: string, context: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv, cipher.getAuthTag(), body].map((p) => p.toString('base64url')).join('.');
}

export function unseal(key: Buffer, sealed: string, context: string): string {
  const [version, iv, tag, body] = sealed.split('.');
  if (version !== 'v1' || !iv || !tag || body === undefined) {
    throw new Error('Unknown sealed format');
  }
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([
    decipher.update(Buffer.from(body, 'base64url')),
    decipher.final(),
  ]).toString('utf8');
}

/** The current signing key does not open with the configured key-encryption secret. */
export class KeyDecryptionError extends Error {
  constructor(readonly kid: string) {
    super(
      `The signing key ${kid} cannot be decrypted: KEY_ENCRYPTION_SECRET (or DATA_DIR/key-encryption.key) is not the secret it was encrypted with.`,
    );
    this.name = 'KeyDecryptionError';
  }
}

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
}

/**
 * A compact JWS (RFC 7515) of `payload`, signed with the key (EdDSA, header `kid` and `typ`).
 * node:crypto signs in about 40 µs where jose's SignJWT, through WebCrypto, takes the event loop
 * 100–190 µs on Node 20, on every token pair; jose still verifies every token. Ed25519 is
 * deterministic: the same key, header and payload give the same token.
 */
export function signJws(key: SigningKey, typ: string, payload: object): string {
  const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
  const input = `${encode({ alg: ACCESS_TOKEN_ALG, kid: key.kid, typ })}.${encode(payload)}`;
  return `${input}.${sign(null, Buffer.from(input), key.privateKey).toString('base64url')}`;
}

export interface SigningKeyStoreOptions {
  db: Kysely<Database>;
  encryptionKey: Buffer;
  clock: Clock;
  /** Retired keys stay published this long: the access-token lifetime plus leeway. */
  publishRetiredForSeconds: number;
  /** How long this process keeps the key list before reading it again (rotation by the CLI). */
  cacheSeconds?: number;
}

interface Loaded {
  at: number;
  current: SigningKey | undefined;
  published: Map<string, { jwk: JWK; key: KeyObject }>;
}

/**
 * The Ed25519 signing keys in `signing_keys`: private keys encrypted at rest, the current one
 * signs, it and the recently retired ones verify and are published as the JWKS. Several
 * instances share the table; each reads it again after `cacheSeconds` or on an unknown `kid`.
 */
export class SigningKeyStore {
  private loaded: Loaded | undefined;
  private loading: Promise<Loaded> | undefined;
  private readonly cacheMs: number;

  constructor(private readonly o: SigningKeyStoreOptions) {
    this.cacheMs = (o.cacheSeconds ?? 60) * 1000;
  }

  /** Creates the first key when there is none (at start; safe with several instances). */
  async ensureCurrentKey(): Promise<void> {
    if (await findCurrentSigningKey(this.o.db)) return;
    await this.o.db.transaction().execute(async (trx) => {
      await lockSigningKeys(trx);
      if (await findCurrentSigningKey(trx)) return;
      await insertSigningKey(trx, await this.newKeyRow());
    });
    this.loaded = undefined;
  }

  /** A new current key; the previous one stays published until its tokens have expired. */
  async rotate(): Promise<{ kid: string; previousKid: string | undefined }> {
    const row = await this.newKeyRow();
    const previous = await this.o.db.transaction().execute(async (trx) => {
      await lockSigningKeys(trx);
      const current = await findCurrentSigningKey(trx);
      await retireCurrentSigningKey(trx, this.o.clock());
      await insertSigningKey(trx, row);
      return current?.kid;
    });
    this.loaded = undefined;
    return { kid: row.kid, previousKid: previous };
  }

  async currentKey(): Promise<SigningKey> {
    let loaded = await this.load();
    if (!loaded.current) {
      await this.ensureCurrentKey();
      loaded = await this.load(true);
    }
    if (!loaded.current) throw new Error('No current signing key');
    return loaded.current;
  }

  /** The public key for `kid`, or undefined when it is unknown or no longer published. */
  async verificationKey(kid: string): Promise<KeyObject | undefined> {
    const loaded = await this.load();
    const found = loaded.published.get(kid);
    if (found) return found.key;
    // Perhaps another instance (or the CLI) rotated: read again, but at most once a second.
    if (this.o.clock().getTime() - loaded.at < 1000) return undefined;
    return (await this.load(true)).published.get(kid)?.key;
  }

  async jwks(): Promise<{ keys: JWK[] }> {
    const loaded = await this.load();
    return { keys: [...loaded.published.values()].map((k) => k.jwk) };
  }

  /** Reads the table again now (tests; the cache otherwise expires after `cacheSeconds`). */
  async reload(): Promise<void> {
    await this.load(true);
  }

  private async load(force = false): Promise<Loaded> {
    const fresh = this.loaded && this.o.clock().getTime() - this.loaded.at < this.cacheMs;
    if (this.loaded && fresh && !force) return this.loaded;
    this.loading ??= this.read().finally(() => {
      this.loading = undefined;
    });
    this.loaded = await this.loading;
    return this.loaded;
  }

  private async read(): Promise<Loaded> {
    const now = this.o.clock();
    const rows = await listPublishedSigningKeys(
      this.o.db,
      addSeconds(now, -this.o.publishRetiredForSeconds),
    );
    const published = new Map<string, { jwk: JWK; key: KeyObject }>();
    let current: SigningKey | undefined;
    for (const row of rows) {
      const jwk = JSON.parse(row.public_jwk) as JWK;
      published.set(row.kid, {
        jwk,
        key: createPublicKey({
          key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x } as JsonWebKey,
          format: 'jwk',
        }),
      });
      if (row.retired_at === null) {
        let plaintext: string;
        try {
          plaintext = unseal(this.o.encryptionKey, row.private_key_encrypted, row.kid);
        } catch {
          throw new KeyDecryptionError(row.kid);
        }
        const privateJwk = JSON.parse(plaintext) as JsonWebKey;
        current = {
          kid: row.kid,
          privateKey: createPrivateKey({ key: privateJwk, format: 'jwk' }),
        };
      }
    }
    return { at: this.o.clock().getTime(), current, published };
  }

  private async newKeyRow() {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const publicJwk = publicKey.export({ format: 'jwk' }) as JWK;
    const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
    const jwk: JWK = { ...publicJwk, kid, alg: ACCESS_TOKEN_ALG, use: 'sig' };
    return {
      kid,
      algorithm: ACCESS_TOKEN_ALG,
      public_jwk: JSON.stringify(jwk),
      private_key_encrypted: seal(
        this.o.encryptionKey,
        JSON.stringify(privateKey.export({ format: 'jwk' })),
        kid,
      ),
      created_at: this.o.clock(),
      retired_at: null,
    };
  }
}
