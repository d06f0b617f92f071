import { createHmac, randomInt } from 'node:crypto';
import type { Kysely } from 'kysely';
import {
  deleteUserPasskeys,
  findPasskeyByCredentialId,
  type PasskeyRow,
  recordPasskeyUse,
} from '../store/passkeys.js';
import {
  deleteRecoveryCodes,
  replaceRecoveryCodes,
  useRecoveryCode,
} from '../store/recovery-codes.js';
import { deleteTotp, findTotp, useTotpStep } from '../store/mfa-totp.js';
import type { Database, Queryable } from '../store/schema.js';
import { secondFactorsOf } from '../store/users.js';
import type { Clock } from './clock.js';
import { seal, unseal } from './keys.js';
import { totpStep } from './totp.js';
import { type AuthenticationResponseJSON, type RelyingParty, verifyAssertion } from './webauthn.js';

/** The ways to pass a second step (the `methods` of `{ mfaRequired: true, methods }`). */
export type SecondStepMethod = 'totp' | 'recovery' | 'passkey';

export const RECOVERY_CODE_COUNT = 10;

/** Removes every second factor of a user: the app, the passkeys and the recovery codes. */
export async function removeAllFactors(trx: Queryable, userId: string) {
  const totp = await deleteTotp(trx, userId);
  const passkeys = await deleteUserPasskeys(trx, userId);
  const recoveryCodes = await deleteRecoveryCodes(trx, userId);
  return { totp, passkeys, recoveryCodes };
}
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/** What a second step proved, for the session's `amr` (RFC 8176). */
export type FactorAmr = 'otp' | 'hwk' | 'swk';

/** A passkey's `amr`: a synced passkey is a software key, a device-bound one a hardware key. */
export function passkeyAmr(passkey: Pick<PasskeyRow, 'device_type'>): FactorAmr {
  return passkey.device_type === 'multiDevice' ? 'swk' : 'hwk';
}

/** The passkey's transports as stored (a comma list). */
export function passkeyTransports(passkey: Pick<PasskeyRow, 'transports'>): string[] {
  return passkey.transports.split(',').filter(Boolean);
}

export interface FactorsOptions {
  db: Kysely<Database>;
  clock: Clock;
  /** Encrypts the TOTP secrets (derived from the key-encryption secret). */
  totpKey: Buffer;
  /** HMAC key of the recovery codes (derived from the key-encryption secret). */
  recoveryKey: Buffer;
  rp: RelyingParty;
}

/**
 * The checks of each second factor, shared by the second step of sign-in, re-authentication and
 * the account's own factor management: a TOTP code (replay refused), a recovery code (single
 * use), a passkey assertion (its challenge already spent by the caller).
 */
export class Factors {
  constructor(readonly o: FactorsOptions) {}

  get rp(): RelyingParty {
    return this.o.rp;
  }

  /** The second steps the user can pass; empty when the user has no factor. */
  async methodsOf(userId: string, db: Queryable = this.o.db): Promise<SecondStepMethod[]> {
    const held = await secondFactorsOf(db, userId);
    const methods: SecondStepMethod[] = [];
    if (held.totp) methods.push('totp');
    if (held.passkey) methods.push('passkey');
    // Recovery codes stand in for a factor, never alone.
    if (methods.length > 0 && held.recovery) methods.push('recovery');
    return methods;
  }

  sealTotpSecret(userId: string, secret: string): string {
    return seal(this.o.totpKey, secret, `totp:${userId}`);
  }

  openTotpSecret(userId: string, sealed: string): string {
    return unseal(this.o.totpKey, sealed, `totp:${userId}`);
  }

  /**
   * A code from the authenticator app: right for now or one step either side, and of a step
   * newer than any accepted before. `confirm`: the check that activates a new secret.
   */
  async checkTotp(
    db: Queryable,
    userId: string,
    code: string,
    options: { confirmAt?: Date } = {},
  ): Promise<boolean> {
    const row = await findTotp(db, userId);
    if (!row || (row.confirmed_at === null) !== (options.confirmAt !== undefined)) return false;
    const step = totpStep(
      this.openTotpSecret(userId, row.secret_encrypted),
      code,
      this.o.clock().getTime(),
    );
    if (step === null) return false;
    return useTotpStep(db, userId, step, options);
  }

  /** Spends one of the user's recovery codes; false when unknown or used. */
  async checkRecoveryCode(db: Queryable, userId: string, code: string): Promise<boolean> {
    const normalised = normaliseRecoveryCode(code);
    if (normalised === undefined) return false;
    return useRecoveryCode(db, userId, this.recoveryHash(normalised), this.o.clock());
  }

  /** A new set of recovery codes for the user (the old set dies); the codes, shown once. */
  async newRecoveryCodes(db: Queryable, userId: string, now: Date): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    await replaceRecoveryCodes(
      db,
      userId,
      codes.map((c) => this.recoveryHash(normaliseRecoveryCode(c) as string)),
      now,
    );
    return codes;
  }

  /**
   * A passkey assertion against `challenge` (which the caller has spent). `userId`: the user it
   * must belong to (second step, re-authentication); null for a discoverable sign-in, where the
   * user handle must name the passkey's owner. The passkey and its owner, or undefined.
   */
  async checkPasskey(
    response: AuthenticationResponseJSON,
    challenge: string,
    userId: string | null,
  ): Promise<PasskeyRow | undefined> {
    const { db, clock } = this.o;
    const passkey = await findPasskeyByCredentialId(db, response.id);
    if (!passkey) return undefined;
    if (userId !== null && passkey.user_id !== userId) return undefined;
    if (userId === null) {
      const handle = response.response.userHandle;
      const owner = handle ? Buffer.from(handle, 'base64url').toString('utf8') : undefined;
      if (owner !== passkey.user_id) return undefined;
    }
    const verified = await verifyAssertion(this.o.rp, response, challenge, {
      credentialId: passkey.credential_id,
      publicKey: passkey.public_key,
      counter: Number(passkey.counter),
      transports: passkeyTransports(passkey),
    });
    if (!verified) return undefined;
    await recordPasskeyUse(db, passkey.id, verified.newCounter, clock());
    return passkey;
  }

  private recoveryHash(normalised: string): string {
    return createHmac('sha256', this.o.recoveryKey).update(normalised).digest('base64url');
  }
}

/** 12 characters (about 59 bits) from an alphabet without look-alikes, as xxxx-xxxx-xxxx. */
function newRecoveryCode(): string {
  const chars = Array.from(
    { length: 12 },
    () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)],
  ).join('');
  return `${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8)}`;
}

/** A typed recovery code without dashes, spaces or capitals; undefined when it cannot be one. */
function normaliseRecoveryCode(code: string): string | undefined {
  const plain = code.toLowerCase().replace(/[\s-]/g, '');
  return /^[a-z0-9]{12}$/.test(plain) ? plain : undefined;
}
