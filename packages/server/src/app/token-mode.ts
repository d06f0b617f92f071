import type { Kysely } from 'kysely';
import type { Config } from '../config/config.js';
import type { Clock } from '../core/clock.js';
import type { SessionCache } from '../core/session-cache.js';
import type { SessionIssuer } from '../core/session-issuer.js';
import type { TokenServiceOptions } from '../core/tokens-service.js';
import { deriveEncryptionKeys, SigningKeyStore } from '../core/keys.js';
import { CLOCK_LEEWAY_SECONDS, TokenService } from '../core/tokens-service.js';
import { resolveKeyEncryptionSecret } from '../config/key-file.js';
import type { Database } from '../store/schema.js';

export interface TokenMode {
  service: TokenService;
  keys: SigningKeyStore;
  /** Where the key-encryption secret came from (logged at start). */
  secretSource: 'env' | 'generated' | 'file';
}

type ResolvedSecret = ReturnType<typeof resolveKeyEncryptionSecret>;

/** The signing-key store, made ready (a first key when there is none), and the token service. */
export function createSigningKeyStore(
  config: Config,
  db: Kysely<Database>,
  clock: Clock,
  resolved: ResolvedSecret = resolveKeyEncryptionSecret(config),
): { keys: SigningKeyStore; successorKey: Buffer; secretSource: TokenMode['secretSource'] } {
  const { secret, source } = resolved;
  const encryption = deriveEncryptionKeys(secret);
  const keys = new SigningKeyStore({
    db,
    encryptionKey: encryption.signingKeys,
    clock,
    // A retired key verifies the tokens it signed until the last of them has expired.
    publishRetiredForSeconds: config.jwt.accessTtlSeconds + CLOCK_LEEWAY_SECONDS + 60,
  });
  return { keys, successorKey: encryption.refreshSuccessors, secretSource: source };
}

export async function createTokenMode(
  config: Config,
  deps: {
    db: Kysely<Database>;
    verifyCredentials: TokenServiceOptions['verifyCredentials'];
    sessionIssuer: SessionIssuer;
    secondStep?: TokenServiceOptions['secondStep'];
    sessionCache?: SessionCache | undefined;
    clock: Clock;
    secret?: ResolvedSecret;
  },
): Promise<TokenMode> {
  const { keys, successorKey, secretSource } = createSigningKeyStore(
    config,
    deps.db,
    deps.clock,
    deps.secret,
  );
  await keys.ensureCurrentKey();
  // Decrypts the current key now: a wrong secret stops the start instead of failing every token.
  await keys.currentKey();
  const service = new TokenService({
    db: deps.db,
    verifyCredentials: deps.verifyCredentials,
    sessionIssuer: deps.sessionIssuer,
    secondStep: deps.secondStep,
    sessionCache: deps.sessionCache,
    keys,
    clock: deps.clock,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    accessTtlSeconds: config.jwt.accessTtlSeconds,
    reuseGraceSeconds: config.jwt.reuseGraceSeconds,
    sessions: config.session,
    successorKey,
  });
  return { service, keys, secretSource };
}

/**
 * `latchkey keys rotate`: a new current signing key. The previous one keeps verifying and stays
 * in the JWKS until the tokens it signed have expired; running servers pick the new key up
 * within a minute (they read the key table again at least that often).
 */
export async function rotateSigningKey(
  config: Config,
  db: Kysely<Database>,
  clock: Clock,
): Promise<{ kid: string; previousKid: string | undefined }> {
  const { keys } = createSigningKeyStore(config, db, clock);
  return keys.rotate();
}
