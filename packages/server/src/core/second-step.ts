import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../store/audit.js';
import { uuidv7 } from '../store/ids.js';
import {
  consumePending,
  countPendingFailure,
  findLivePending,
  insertPendingWithAudit,
  setPendingChallenge,
} from '../store/mfa-pending.js';
import { listPasskeys } from '../store/passkeys.js';
import { countUnusedRecoveryCodes } from '../store/recovery-codes.js';
import type { Database, PendingPurpose } from '../store/schema.js';
import { findUserById, type UserWithRoles } from '../store/users.js';
import { consumeChallenge, insertChallenge } from '../store/webauthn-challenges.js';
import { addSeconds, type Clock } from './clock.js';
import { errors } from './errors.js';
import { type Factors, passkeyAmr, passkeyTransports, type SecondStepMethod } from './factors.js';
import type { RequestContext } from './request.js';
import type { LoginThrottle, ThrottleTicket } from './throttle.js';
import { generateToken, hashToken, isWellFormedToken } from './tokens.js';
import { type AuthenticationResponseJSON, authenticationOptions, challengeOf } from './webauthn.js';

/** A pending sign-in lives this long after its password. */
export const PENDING_TTL_SECONDS = 300;
/** Wrong codes that end a pending sign-in. */
export const PENDING_MAX_FAILURES = 10;
const CHALLENGE_TTL_SECONDS = 300;

/** The answer to a second step. */
export type SecondStepInput =
  | { method: 'totp' | 'recovery'; code: string }
  | { method: 'passkey'; response: AuthenticationResponseJSON };

/** A password that was right for an account with a factor: the second step it now needs. */
export interface PendingSignIn {
  /** The pending cookie's value, or `mfaToken` in token mode; only its hash is stored. */
  token: string;
  methods: SecondStepMethod[];
}

/** A second step (or a passkey sign-in) that succeeded: who, and how (`amr`). */
export interface SecondStepPassed {
  user: UserWithRoles;
  amr: string[];
  method: string;
}

export interface SecondStepOptions {
  db: Kysely<Database>;
  clock: Clock;
  factors: Factors;
  /** The per-account throttle on wrong codes (keyed by user id). */
  throttle?: LoginThrottle | undefined;
  /** REQUIRE_EMAIL_VERIFICATION: an unconfirmed address then signs in no way at all. */
  requireEmailVerification: boolean;
}

/**
 * The sign-in between a right password and its second step, and the passkey sign-in of its own.
 * A pending sign-in is single use, bound to one user and one way of finishing (cookie or token),
 * lives 5 minutes, and dies after 10 wrong codes; wrong codes also count in a per-account
 * throttle (growing delays, 429). No session exists until a step succeeds.
 */
export class SecondStep {
  constructor(private readonly o: SecondStepOptions) {}

  /** Starts a pending sign-in when the user has a factor; undefined when none is needed. */
  async begin(
    user: UserWithRoles,
    purpose: PendingPurpose,
    ctx: RequestContext,
  ): Promise<PendingSignIn | undefined> {
    const { db, clock, factors } = this.o;
    const methods = await factors.methodsOf(user.id);
    if (methods.length === 0) return undefined;
    const token = generateToken();
    const now = clock();
    await insertPendingWithAudit(
      db,
      {
        id: uuidv7(now.getTime()),
        user_id: user.id,
        token_hash: hashToken(token),
        purpose,
        challenge: null,
        created_at: now,
        expires_at: addSeconds(now, PENDING_TTL_SECONDS),
        used_at: null,
      },
      { type: 'mfa.challenge_started', userId: user.id, data: { purpose, methods }, ...ctx },
    );
    return { token, methods };
  }

  /** POST /auth/mfa/passkey-options: request options listing the pending user's passkeys. */
  async passkeyOptions(token: string | undefined, purpose: PendingPurpose) {
    const { db } = this.o;
    const pending = await this.livePending(token, purpose);
    const passkeys = await listPasskeys(db, pending.user_id);
    const options = await authenticationOptions(
      this.o.factors.rp,
      passkeys.map((p) => ({ credentialId: p.credential_id, transports: passkeyTransports(p) })),
    );
    await setPendingChallenge(db, pending.id, options.challenge);
    return options;
  }

  /**
   * POST /auth/mfa/verify and /auth/token/mfa: checks the code or passkey of the pending
   * sign-in's user and spends the pending sign-in. 401 `mfa_session_expired` for an unknown,
   * used, expired or dead one; 401 `invalid_code`; 429 while throttled.
   */
  async verify(
    token: string | undefined,
    purpose: PendingPurpose,
    input: SecondStepInput,
    ctx: RequestContext,
  ): Promise<SecondStepPassed> {
    const { db, clock, factors } = this.o;
    const pending = await this.livePending(token, purpose);
    const user = await findUserById(db, pending.user_id);
    if (!user || user.disabled_at !== null) throw errors.mfaSessionExpired();
    const ticket = await this.o.throttle?.begin(user.id);

    let proved: string | undefined;
    if (input.method === 'passkey') {
      const challenge = pending.challenge;
      // The options of this pending sign-in, and no other, are what the passkey must answer.
      if (challenge !== null && challengeOf(input.response) === challenge) {
        const passkey = await factors.checkPasskey(input.response, challenge, user.id);
        if (passkey) proved = passkeyAmr(passkey);
      }
    } else {
      const ok =
        input.method === 'totp'
          ? await factors.checkTotp(db, user.id, input.code)
          : await factors.checkRecoveryCode(db, user.id, input.code);
      if (ok) proved = 'otp';
    }

    const now = clock();
    if (!proved) {
      const failures = await countPendingFailure(db, pending.id, PENDING_MAX_FAILURES, now);
      await this.throttleFailed(ticket, user.id, ctx);
      await recordAuditEvent(
        db,
        {
          type: 'mfa.failed',
          userId: user.id,
          data: { method: input.method, failures, purpose },
          ...ctx,
        },
        now,
      );
      throw errors.invalidCode();
    }
    // Two right answers racing: only one spends the pending sign-in.
    if (!(await consumePending(db, pending.id, now))) throw errors.mfaSessionExpired();
    if (ticket) await this.o.throttle?.succeeded(ticket);
    const data: Record<string, unknown> = { method: input.method, purpose };
    if (input.method === 'recovery') {
      data.recoveryCodesRemaining = await countUnusedRecoveryCodes(db, user.id);
    }
    await recordAuditEvent(db, { type: 'mfa.succeeded', userId: user.id, data, ...ctx }, now);
    return { user, amr: ['pwd', proved, 'mfa'], method: input.method };
  }

  /** POST /auth/passkeys/login-options: options for a discoverable credential, and their challenge. */
  async loginOptions() {
    const { db, clock } = this.o;
    const options = await authenticationOptions(this.o.factors.rp, undefined);
    const now = clock();
    await insertChallenge(db, {
      challenge: options.challenge,
      userId: null,
      purpose: 'login',
      expiresAt: addSeconds(now, CHALLENGE_TTL_SECONDS),
      now,
    });
    return options;
  }

  /**
   * POST /auth/passkeys/login: a discoverable passkey alone signs in (user verification is
   * required, so it is two factors in one). Every failure is the same `invalid_credentials`.
   */
  async passkeyLogin(
    response: AuthenticationResponseJSON,
    ctx: RequestContext,
  ): Promise<SecondStepPassed> {
    const { db, clock, factors } = this.o;
    const now = clock();
    const challenge = challengeOf(response);
    const spent = challenge ? await consumeChallenge(db, challenge, 'login', now) : undefined;
    const passkey =
      challenge && spent ? await factors.checkPasskey(response, challenge, null) : undefined;
    const user = passkey ? await findUserById(db, passkey.user_id) : undefined;
    const unconfirmed = this.o.requireEmailVerification && user?.email_verified_at === null;
    if (!passkey || !user || user.disabled_at !== null || unconfirmed) {
      await recordAuditEvent(
        db,
        {
          type: 'passkey_login.failed',
          userId: user?.id ?? null,
          data: { reason: !passkey ? 'unknown_or_invalid' : 'account_unavailable' },
          ...ctx,
        },
        now,
      );
      throw errors.invalidCredentials();
    }
    return { user, amr: [passkeyAmr(passkey), 'mfa'], method: 'passkey' };
  }

  private async livePending(token: string | undefined, purpose: PendingPurpose) {
    if (!token || !isWellFormedToken(token)) throw errors.mfaSessionExpired();
    const pending = await findLivePending(this.o.db, hashToken(token), purpose, this.o.clock());
    if (!pending || pending.failures >= PENDING_MAX_FAILURES) throw errors.mfaSessionExpired();
    return pending;
  }

  private async throttleFailed(
    ticket: ThrottleTicket | undefined,
    userId: string,
    ctx: RequestContext,
  ): Promise<void> {
    // This throttle never locks (app/abuse.ts): starting its delays is the event.
    if (!ticket || this.o.throttle?.failureOutcome(ticket) !== 'throttled') return;
    await recordAuditEvent(
      this.o.db,
      { type: 'mfa.throttled', userId, data: { failures: ticket.failures }, ...ctx },
      this.o.clock(),
    );
  }
}
