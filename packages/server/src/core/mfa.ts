import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../store/audit.js';
import { deleteTotp, findTotp, saveUnconfirmedTotp } from '../store/mfa-totp.js';
import { enqueueMail } from '../store/outbox.js';
import {
  deletePasskey,
  findPasskeyOf,
  insertPasskey,
  listPasskeys,
  type PasskeyRow,
  renamePasskey,
} from '../store/passkeys.js';
import { countUnusedRecoveryCodes, deleteRecoveryCodes } from '../store/recovery-codes.js';
import type { Database, Queryable } from '../store/schema.js';
import { markSessionAuthenticated } from '../store/sessions.js';
import { isUniqueViolation, type UserWithRoles } from '../store/users.js';
import { consumeChallenge, insertChallenge } from '../store/webauthn-challenges.js';
import { uuidv7 } from '../store/ids.js';
import { addSeconds, type Clock } from './clock.js';
import { AuthError, errors } from './errors.js';
import { type Factors, passkeyAmr, passkeyTransports } from './factors.js';
import { factorChangedMail, type FactorChange } from './mfa-mails.js';
import type { MailContext } from './mail-templates.js';
import type { AuthenticatedSession, RequestContext } from './request.js';
import type { LoginThrottle } from './throttle.js';
import { newTotpSecret, totpEnrolment } from './totp.js';
import {
  type AuthenticationResponseJSON,
  challengeOf,
  type RegistrationResponseJSON,
  registrationOptions,
  verifyRegistration,
} from './webauthn.js';
import { emitWebhookEvent } from './webhooks.js';

/** A passkey as the API shows it. */
export interface PublicPasskey {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export function toPublicPasskey(row: PasskeyRow): PublicPasskey {
  return {
    id: row.id,
    name: row.name,
    createdAt: row.created_at.toISOString(),
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
  };
}

/** A re-authentication: the password, a code, or a passkey assertion. */
export type ReauthInput =
  | { password: string }
  | { method: 'totp' | 'recovery'; code: string }
  | { method: 'passkey'; response: AuthenticationResponseJSON };

export interface MfaServiceOptions {
  db: Kysely<Database>;
  clock: Clock;
  factors: Factors;
  mail: MailContext;
  reauthMaxAgeSeconds: number;
  /** MFA_REQUIRED_ROLES. */
  requiredRoles: string[];
  /** The password check of sign-in (throttled and audited like a login). */
  verifyCredentials: (
    input: { email: string; password: string },
    ctx: RequestContext,
  ) => Promise<UserWithRoles>;
  /** The per-account throttle on wrong codes. */
  throttle?: LoginThrottle | undefined;
  onMailQueued?: () => void;
}

const CHALLENGE_TTL_SECONDS = 300;

const invalidPasskey = () =>
  new AuthError(
    'invalid_passkey',
    400,
    'The passkey could not be registered: its answer did not check out or its options expired. Try again.',
  );
const passkeyNotFound = () => new AuthError('not_found', 404, 'No such passkey.');

/** The union of two `amr` lists, in a stable order. */
function withAmr(current: string[], added: string[]): string[] {
  return [...new Set([...current, ...added])];
}

/**
 * A signed-in user's own second factors: the authenticator app, recovery codes and passkeys,
 * recent authentication and re-authentication, and the MFA_REQUIRED_ROLES policy.
 */
export class MfaService {
  constructor(private readonly o: MfaServiceOptions) {}

  /** GET /auth/mfa. */
  async status(who: AuthenticatedSession) {
    const { db } = this.o;
    const [totp, codes, passkeys] = await Promise.all([
      findTotp(db, who.user.id),
      countUnusedRecoveryCodes(db, who.user.id),
      listPasskeys(db, who.user.id),
    ]);
    return {
      totp: totp?.confirmed_at
        ? { enabled: true, createdAt: totp.confirmed_at.toISOString() }
        : null,
      recoveryCodesRemaining: codes,
      passkeys: passkeys.map(toPublicPasskey),
      required: this.holdsRequiredRole(who.user.roles),
    };
  }

  holdsRequiredRole(roles: string[]): boolean {
    return roles.some((role) => this.o.requiredRoles.includes(role));
  }

  /**
   * MFA_REQUIRED_ROLES: true when `permission` is one that the session's required roles grant
   * and the session did not sign in with a second factor.
   */
  async enrollmentRequired(
    who: AuthenticatedSession,
    permission: string,
    permissionsOf: (roles: string[]) => Promise<Set<string>>,
  ): Promise<boolean> {
    if (who.amr.includes('mfa')) return false;
    const held = who.user.roles.filter((role) => this.o.requiredRoles.includes(role));
    if (held.length === 0) return false;
    return (await permissionsOf(held)).has(permission);
  }

  /** 403 `reauthentication_required` unless the session authenticated within REAUTH_MAX_AGE. */
  ensureRecent(who: AuthenticatedSession): void {
    const age = this.o.clock().getTime() - who.authenticatedAt.getTime();
    if (age > this.o.reauthMaxAgeSeconds * 1000) throw errors.reauthenticationRequired();
  }

  /** POST /auth/mfa/totp/setup: a new secret, active only once a code confirms it. */
  async setupTotp(who: AuthenticatedSession, ctx: RequestContext) {
    this.ensureRecent(who);
    const { db, clock, factors } = this.o;
    const secret = newTotpSecret();
    const now = clock();
    const saved = await saveUnconfirmedTotp(db, {
      userId: who.user.id,
      secretEncrypted: factors.sealTotpSecret(who.user.id, secret),
      now,
    });
    if (!saved) {
      throw new AuthError(
        'totp_already_enabled',
        409,
        'An authenticator app is already set up: remove it first to set up another.',
      );
    }
    await recordAuditEvent(
      db,
      { type: 'mfa.totp_setup_started', userId: who.user.id, ...ctx },
      now,
    );
    const enrolment = await totpEnrolment(secret, this.o.mail.serviceName, who.user.email);
    return { secret, ...enrolment };
  }

  /**
   * POST /auth/mfa/totp/confirm: a code from the app activates the secret. The first factor of
   * the account also gets recovery codes (shown only in this answer). The session counts as
   * signed in with the app from now on.
   */
  async confirmTotp(who: AuthenticatedSession, code: string, ctx: RequestContext) {
    // Confirming makes the session recent again: only a recent one may, as for the setup.
    this.ensureRecent(who);
    const { db, clock, factors } = this.o;
    const ticket = await this.o.throttle?.begin(who.user.id);
    const now = clock();
    const recoveryCodes = await db.transaction().execute(async (trx) => {
      const first = (await factors.methodsOf(who.user.id, trx)).length === 0;
      if (!(await factors.checkTotp(trx, who.user.id, code, { confirmAt: now }))) return undefined;
      const codes = first ? await factors.newRecoveryCodes(trx, who.user.id, now) : [];
      await this.upgradeSession(trx, who, ['otp'], now);
      await this.recordChange(trx, who.user, { type: 'mfa.totp_enabled' }, ctx, now, {
        kind: 'added',
        factor: 'An authenticator app',
      });
      return codes;
    });
    if (!recoveryCodes) {
      await recordAuditEvent(
        db,
        { type: 'mfa.totp_confirm_failed', userId: who.user.id, ...ctx },
        now,
      );
      throw new AuthError(
        'invalid_code',
        400,
        'That code is not right. Check the app and try again.',
      );
    }
    if (ticket) await this.o.throttle?.succeeded(ticket);
    this.o.onMailQueued?.();
    return { recoveryCodes };
  }

  /** DELETE /auth/mfa/totp. */
  async removeTotp(who: AuthenticatedSession, ctx: RequestContext): Promise<void> {
    this.ensureRecent(who);
    const now = this.o.clock();
    const removed = await this.o.db.transaction().execute(async (trx) => {
      const confirmed = Boolean((await findTotp(trx, who.user.id))?.confirmed_at);
      if (!(await deleteTotp(trx, who.user.id))) return false;
      if (!confirmed) return true; // an unfinished setup: nothing to tell anyone
      await this.dropOrphanRecoveryCodes(trx, who.user.id);
      await this.recordChange(trx, who.user, { type: 'mfa.totp_disabled' }, ctx, now, {
        kind: 'removed',
        factor: 'The authenticator app',
      });
      return true;
    });
    if (!removed) throw new AuthError('not_found', 404, 'No authenticator app is set up.');
    this.o.onMailQueued?.();
  }

  /** POST /auth/mfa/recovery-codes: a new set, the old one dies. */
  async regenerateRecoveryCodes(who: AuthenticatedSession, ctx: RequestContext) {
    this.ensureRecent(who);
    const { db, clock, factors } = this.o;
    const now = clock();
    const codes = await db.transaction().execute(async (trx) => {
      const methods = await factors.methodsOf(who.user.id, trx);
      if (!methods.includes('totp') && !methods.includes('passkey')) return undefined;
      const fresh = await factors.newRecoveryCodes(trx, who.user.id, now);
      await recordAuditEvent(
        trx,
        { type: 'mfa.recovery_codes_generated', userId: who.user.id, ...ctx },
        now,
      );
      return fresh;
    });
    if (!codes) {
      throw new AuthError(
        'mfa_not_enabled',
        409,
        'Set up an authenticator app or a passkey first: recovery codes stand in for one.',
      );
    }
    return { recoveryCodes: codes };
  }

  /** POST /auth/passkeys/registration-options. */
  async passkeyRegistrationOptions(who: AuthenticatedSession) {
    this.ensureRecent(who);
    const { db, clock, factors } = this.o;
    const existing = await listPasskeys(db, who.user.id);
    const options = await registrationOptions(
      factors.rp,
      who.user,
      existing.map((p) => ({ credentialId: p.credential_id, transports: passkeyTransports(p) })),
    );
    const now = clock();
    await insertChallenge(db, {
      challenge: options.challenge,
      userId: who.user.id,
      purpose: 'register',
      expiresAt: addSeconds(now, CHALLENGE_TTL_SECONDS),
      now,
    });
    return options;
  }

  /** POST /auth/passkeys: the authenticator's answer to the registration options. */
  async addPasskey(
    who: AuthenticatedSession,
    input: { response: RegistrationResponseJSON; name?: string | undefined },
    ctx: RequestContext,
  ): Promise<PublicPasskey> {
    const { db, clock, factors } = this.o;
    const now = clock();
    const challenge = challengeOf(input.response);
    const spent = challenge ? await consumeChallenge(db, challenge, 'register', now) : undefined;
    if (!challenge || !spent || spent.userId !== who.user.id) throw invalidPasskey();
    const credential = await verifyRegistration(factors.rp, input.response, challenge);
    if (!credential) throw invalidPasskey();
    const count = (await listPasskeys(db, who.user.id)).length;
    const row = {
      id: uuidv7(now.getTime()),
      user_id: who.user.id,
      credential_id: credential.credentialId,
      public_key: credential.publicKey,
      counter: credential.counter,
      transports: credential.transports.join(','),
      device_type: credential.deviceType,
      backed_up: credential.backedUp,
      name: input.name ?? `Passkey ${count + 1}`,
      created_at: now,
      last_used_at: null,
    };
    try {
      await db.transaction().execute(async (trx) => {
        await insertPasskey(trx, row);
        await this.upgradeSession(trx, who, [passkeyAmr(row)], now);
        await this.recordChange(
          trx,
          who.user,
          { type: 'mfa.passkey_added', data: { passkeyId: row.id, name: row.name } },
          ctx,
          now,
          { kind: 'added', factor: `A passkey ("${row.name}")` },
        );
      });
    } catch (error) {
      // The same authenticator registered twice (on this account or another).
      if (isUniqueViolation(error)) throw invalidPasskey();
      throw error;
    }
    this.o.onMailQueued?.();
    return toPublicPasskey({ ...row, counter: String(row.counter) });
  }

  /** PATCH /auth/passkeys/:id. */
  async renamePasskey(
    who: AuthenticatedSession,
    id: string,
    name: string,
    ctx: RequestContext,
  ): Promise<PublicPasskey> {
    if (!isUuid(id)) throw passkeyNotFound();
    const now = this.o.clock();
    const row = await this.o.db.transaction().execute(async (trx) => {
      const renamed = await renamePasskey(trx, who.user.id, id, name);
      if (renamed) {
        await recordAuditEvent(
          trx,
          {
            type: 'mfa.passkey_renamed',
            userId: who.user.id,
            data: { passkeyId: id, name },
            ...ctx,
          },
          now,
        );
      }
      return renamed;
    });
    if (!row) throw passkeyNotFound();
    return toPublicPasskey(row);
  }

  /** DELETE /auth/passkeys/:id. */
  async removePasskey(who: AuthenticatedSession, id: string, ctx: RequestContext): Promise<void> {
    this.ensureRecent(who);
    if (!isUuid(id)) throw passkeyNotFound();
    const now = this.o.clock();
    const removed = await this.o.db.transaction().execute(async (trx) => {
      const row = await findPasskeyOf(trx, who.user.id, id);
      if (!row || !(await deletePasskey(trx, who.user.id, id))) return false;
      await this.dropOrphanRecoveryCodes(trx, who.user.id);
      await this.recordChange(
        trx,
        who.user,
        { type: 'mfa.passkey_removed', data: { passkeyId: id, name: row.name } },
        ctx,
        now,
        { kind: 'removed', factor: `A passkey ("${row.name}")` },
      );
      return true;
    });
    if (!removed) throw passkeyNotFound();
    this.o.onMailQueued?.();
  }

  /**
   * POST /auth/reauthenticate: the password, a code or a passkey again; the session's
   * authentication time becomes now (and what was used joins its `amr`).
   */
  async reauthenticate(
    who: AuthenticatedSession,
    input: ReauthInput,
    ctx: RequestContext,
  ): Promise<void> {
    const { db, clock, factors } = this.o;
    let method: string;
    let proved: string[];
    if ('password' in input) {
      // Throttled and audited as a failed password; 401 invalid_credentials when wrong.
      const user = await this.o.verifyCredentials(
        { email: who.user.email, password: input.password },
        ctx,
      );
      if (user.id !== who.user.id) throw errors.invalidCredentials();
      method = 'password';
      proved = ['pwd'];
    } else {
      method = input.method;
      const ticket = await this.o.throttle?.begin(who.user.id);
      let ok: boolean;
      if (input.method === 'passkey') {
        // An assertion against options from POST /auth/passkeys/login-options.
        const challenge = challengeOf(input.response);
        const spent = challenge
          ? await consumeChallenge(db, challenge, 'login', clock())
          : undefined;
        const passkey =
          challenge && spent
            ? await factors.checkPasskey(input.response, challenge, who.user.id)
            : undefined;
        if (passkey) proved = [passkeyAmr(passkey)];
        ok = passkey !== undefined;
      } else {
        ok =
          input.method === 'totp'
            ? await factors.checkTotp(db, who.user.id, input.code)
            : await factors.checkRecoveryCode(db, who.user.id, input.code);
      }
      if (!ok) {
        await recordAuditEvent(
          db,
          { type: 'reauthentication.failed', userId: who.user.id, data: { method }, ...ctx },
          clock(),
        );
        throw errors.invalidCode();
      }
      if (ticket) await this.o.throttle?.succeeded(ticket);
      proved ??= ['otp'];
    }
    const now = clock();
    await db.transaction().execute(async (trx) => {
      await markSessionAuthenticated(trx, who.sessionId, {
        amr: withAmr(who.amr, proved).join(' '),
        authenticatedAt: now,
      });
      await recordAuditEvent(
        trx,
        { type: 'reauthenticated', userId: who.user.id, data: { method }, ...ctx },
        now,
      );
    });
  }

  /** The session just proved a factor (confirming or adding it): it counts as signed in with it. */
  private async upgradeSession(
    trx: Queryable,
    who: AuthenticatedSession,
    proved: string[],
    now: Date,
  ): Promise<void> {
    await markSessionAuthenticated(trx, who.sessionId, {
      amr: withAmr(who.amr, [...proved, 'mfa']).join(' '),
      authenticatedAt: now,
    });
  }

  /** Recovery codes stand in for a factor: with no factor left they go too. */
  private async dropOrphanRecoveryCodes(trx: Queryable, userId: string): Promise<void> {
    if ((await this.o.factors.methodsOf(userId, trx)).length === 0) {
      await deleteRecoveryCodes(trx, userId);
    }
  }

  /** A factor added or removed: its audit event and the owner's mail. */
  private async recordChange(
    trx: Queryable,
    user: { id: string; email: string },
    event: { type: string; data?: Record<string, unknown> },
    ctx: RequestContext,
    now: Date,
    change: FactorChange,
  ): Promise<void> {
    await recordAuditEvent(trx, { ...event, userId: user.id, ...ctx }, now);
    await enqueueMail(trx, factorChangedMail(this.o.mail, user.email, change), now);
    const method = event.type.startsWith('mfa.passkey') ? 'passkey' : 'totp';
    await emitWebhookEvent(
      trx,
      change.kind === 'added' ? 'mfa.enabled' : 'mfa.disabled',
      { userId: user.id, data: { method } },
      now,
    );
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
function isUuid(id: string): boolean {
  return UUID.test(id);
}
