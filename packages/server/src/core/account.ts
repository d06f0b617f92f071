// Just over 400 lines: the self-service flows share one password check and one policy check.
import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../store/audit.js';
import {
  consumeEmailToken,
  findLiveEmailToken,
  replaceEmailToken,
  voidEmailTokens,
} from '../store/email-tokens.js';
import { enqueueMail } from '../store/outbox.js';
import type { Database, Queryable } from '../store/schema.js';
import { isLiveSessionOf, listLiveSessions, revokeSession } from '../store/sessions.js';
import {
  findUserByEmail,
  findUserById,
  lockUser,
  type UserWithRoles,
  updateUser,
  updateUserName,
} from '../store/users.js';
import { confirmNewEmailMail, passwordChangedMail, resetPasswordMail } from './account-mails.js';
import type { AdminSession } from './admin-views.js';
import { addSeconds, type Clock } from './clock.js';
import { deviceLabel } from './devices.js';
import { AuthError, errors } from './errors.js';
import { BackgroundJobs } from './background-jobs.js';
import { uuidv7 } from '../store/ids.js';
import type { MailContext } from './mail-templates.js';
import type { PasswordPolicy } from './password-policy.js';
import type { AccountRateLimiter } from './rate-limits.js';
import {
  type PublicUser,
  type RequestContext,
  type RotatedSession,
  toPublicUser,
} from './request.js';
import { generateToken, hashToken, isWellFormedToken } from './tokens.js';
import { emitSessionsRevoked, emitWebhookEvent } from './webhooks.js';
import { signOutEverywhere } from './sign-out.js';
import { removeAllFactors } from './factors.js';

/** A signed-in caller, as the http layer knows it from the session. */
export interface SignedIn {
  sessionId: string;
  user: { id: string; email: string; name: string | null };
}

/** One entry of the signed-in devices list: what an admin sees, and whether it is this one. */
export interface DeviceSession extends AdminSession {
  current: boolean;
}

export interface AccountServiceOptions {
  db: Kysely<Database>;
  policy: PasswordPolicy;
  clock: Clock;
  mail: MailContext;
  resetPasswordTtlSeconds: number;
  /** Lifetime of the link that confirms a new email address (VERIFY_TOKEN_TTL). */
  changeEmailTtlSeconds: number;
  /**
   * The password check of login (AuthService.verifyCredentials): a wrong current password at
   * change-password / change-email is a failed login attempt for throttling and the audit trail.
   */
  verifyCredentials: (
    input: { email: string; password: string },
    ctx: RequestContext,
  ) => Promise<UserWithRoles>;
  /** SessionIssuer.rotate: a new token for a session whose credentials changed. */
  rotateSession: (
    trx: Queryable,
    sessionId: string,
    reason: string,
    ctx: RequestContext,
    now: Date,
  ) => Promise<RotatedSession | undefined>;
  onMailQueued?: () => void;
  /**
   * The per-account login throttle (core/throttle.ts): a reset clears its delays and its lock,
   * since password sign-in stays off after too many failures until a reset.
   */
  throttle?: { clear(email: string): Promise<void> } | undefined;
  /**
   * The per-address window of email-change mail (RATE_LIMIT_CHANGE_EMAIL_ACCOUNT), counted here,
   * once the caller is signed in and typed the password: a limit counted before would let anyone
   * spend an address's window with requests that can never send it mail.
   */
  accountLimits?: Pick<AccountRateLimiter, 'consume'> | undefined;
  /** Failures of work done after the answer (forgot-password), for the log. */
  onBackgroundError?: (error: unknown, message: string) => void;
}

/** Tokens a password change (reset or change) voids: a pending reset or email change. */
const VOIDED_BY_PASSWORD_CHANGE = ['reset_password', 'change_email'] as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const sessionNotFound = () =>
  new AuthError('not_found', 404, 'There is no such session among yours.');

/**
 * Self-service account flows: forgotten and changed passwords, email change and signed-in
 * devices. Framework-free like AuthService; sessions are revoked only through store/sessions.ts.
 */
export class AccountService {
  private readonly background: BackgroundJobs;

  constructor(private readonly o: AccountServiceOptions) {
    this.background = new BackgroundJobs(o.onBackgroundError);
  }

  /**
   * The caller's own profile change (the display name): audited as `user.updated` with the
   * fields that changed. The same name again changes nothing and records nothing.
   */
  async updateProfile(
    caller: SignedIn,
    changes: { name: string },
    ctx: RequestContext,
  ): Promise<PublicUser> {
    const now = this.o.clock();
    const user = await this.o.db.transaction().execute(async (trx) => {
      // Locked, so that of two racing changes each event names the name it replaced.
      await lockUser(trx, caller.user.id);
      const before = await findUserById(trx, caller.user.id);
      if (!before) throw errors.unauthenticated();
      if (before.name === changes.name) return before;
      const after = await updateUserName(trx, before.id, changes.name, now);
      if (!after) throw errors.unauthenticated();
      await recordAuditEvent(
        trx,
        {
          type: 'user.updated',
          userId: before.id,
          data: { changed: ['name'], name: { from: before.name, to: after.name } },
          ...ctx,
        },
        now,
      );
      await emitWebhookEvent(
        trx,
        'user.updated',
        { user: toPublicUser(after), data: { changed: 'name' } },
        now,
      );
      return after;
    });
    return toPublicUser(user);
  }

  /**
   * Queues a reset link for an existing, enabled account; does nothing visible otherwise. The
   * answer must not tell the two apart, by content or by time: the lookup and the writes run in
   * the background after the caller has its answer, and the mail is queued, never sent inline.
   * `settled()` waits for that work (tests, shutdown).
   */
  forgotPassword(email: string, ctx: RequestContext): Promise<void> {
    const now = this.o.clock();
    return this.background.run(
      () => this.issueResetLink(email, ctx, now),
      'forgot-password: could not issue a reset link',
    );
  }

  /** Resolves once the background work started so far (reset links) is done. */
  settled(): Promise<void> {
    return this.background.settled();
  }

  private async issueResetLink(email: string, ctx: RequestContext, now: Date): Promise<void> {
    const { db } = this.o;
    const user = await findUserByEmail(db, email);
    const eligible = user !== undefined && user.disabled_at === null;
    await db.transaction().execute(async (trx) => {
      if (eligible) await this.queueResetLink(trx, user, now);
      await recordAuditEvent(
        trx,
        {
          type: 'password_reset.requested',
          userId: user?.id ?? null,
          ...(eligible ? {} : { data: { outcome: user ? 'disabled' : 'unknown_account' } }),
          ...ctx,
        },
        now,
      );
    });
    if (eligible) this.o.onMailQueued?.();
  }

  /**
   * Writes a fresh reset link and its mail inside the caller's transaction (forgot-password, and
   * the admin's forced reset in core/admin.ts); older reset links of the user stop working.
   */
  async queueResetLink(trx: Queryable, user: { id: string; email: string }, now: Date) {
    // Two requests at once for one user: one after the other, so one link stays live.
    await lockUser(trx, user.id);
    const token = generateToken();
    await replaceEmailToken(trx, {
      id: uuidv7(now.getTime()),
      userId: user.id,
      purpose: 'reset_password',
      tokenHash: hashToken(token),
      now,
      expiresAt: addSeconds(now, this.o.resetPasswordTtlSeconds),
    });
    await enqueueMail(
      trx,
      resetPasswordMail(this.o.mail, user.email, token, this.o.resetPasswordTtlSeconds),
      now,
    );
  }

  /**
   * Sets a new password with a reset token: single use, checked against the policy before it is
   * consumed (a refused password leaves the link usable), then every session of the user is
   * revoked, the address counts as verified and a notice is mailed.
   */
  async resetPassword(input: { token: string; password: string }, ctx: RequestContext) {
    if (!isWellFormedToken(input.token)) throw errors.invalidToken();
    const { db, clock } = this.o;
    const tokenHash = hashToken(input.token);
    const peek = await findLiveEmailToken(db, tokenHash, ['reset_password'], clock());
    const user = peek ? await findUserById(db, peek.user_id) : undefined;
    if (!peek || !user || user.disabled_at !== null) throw errors.invalidToken();
    // Hash outside the transaction: it takes tens of milliseconds and must not hold a connection.
    const passwordHash = await this.acceptNew(input.password, user, 'password', ctx);

    const now = clock();
    const done = await db.transaction().execute(async (trx) => {
      // The atomic consume decides between two requests racing with the same token.
      const row = await consumeEmailToken(trx, tokenHash, ['reset_password'], now);
      if (!row || row.user_id !== user.id) return false;
      await updateUser(trx, user.id, {
        password_hash: passwordHash,
        password_changed_at: now,
        // Following the link proved the mailbox; a name set before that may be a
        // pre-registrant's (see the factors below).
        ...(user.email_verified_at === null ? { email_verified_at: now, name: null } : {}),
        updated_at: now,
      });
      // The mailbox is proved: pending sign-ups' links (each carrying a password) stop working.
      await voidEmailTokens(trx, user.id, [...VOIDED_BY_PASSWORD_CHANGE, 'verify_email']);
      const revoked = await signOutEverywhere(trx, user.id, 'password_reset', now);
      // Second factors set up before anyone proved the mailbox (possible without required
      // verification) may be a pre-registrant's, who would keep a way in, or lock the owner out.
      const removed =
        user.email_verified_at === null ? await removeAllFactors(trx, user.id) : undefined;
      if (removed && (removed.totp || removed.passkeys > 0)) {
        await emitWebhookEvent(
          trx,
          'mfa.disabled',
          { userId: user.id, data: { method: 'all' } },
          now,
        );
      }
      await emitWebhookEvent(trx, 'password.reset', { userId: user.id }, now);
      await enqueueMail(trx, passwordChangedMail(this.o.mail, user.email, 'reset'), now);
      await recordAuditEvent(
        trx,
        {
          type: 'password.reset',
          userId: user.id,
          data: {
            revokedSessions: revoked.length,
            ...(removed ? { removedFactors: removed } : {}),
          },
          ...ctx,
        },
        now,
      );
      return true;
    });
    if (!done) throw errors.invalidToken();
    this.o.onMailQueued?.();
    // The new password is set either way; a throttle store that is down only delays the unlock.
    await this.o.throttle
      ?.clear(user.email)
      .catch((error: unknown) => this.o.onBackgroundError?.(error, 'reset: throttle not cleared'));
  }

  /**
   * Changes the password of a signed-in user; every other session is revoked. The caller's stays
   * signed in: with `rotate` (a cookie session) under a new token, returned for the new cookie;
   * without it (a bearer token's session, which no answer could give new tokens) as it is.
   */
  async changePassword(
    who: SignedIn,
    input: { currentPassword: string; newPassword: string },
    ctx: RequestContext,
    options: { rotate: boolean } = { rotate: false },
  ): Promise<RotatedSession | undefined> {
    const { db, clock } = this.o;
    const user = await this.confirmPassword(who, input.currentPassword, ctx, 'currentPassword');
    const passwordHash = await this.acceptNew(input.newPassword, user, 'newPassword', ctx);
    const now = clock();
    const rotated = await db.transaction().execute(async (trx) => {
      await updateUser(trx, user.id, {
        password_hash: passwordHash,
        password_changed_at: now,
        updated_at: now,
      });
      await voidEmailTokens(trx, user.id, [...VOIDED_BY_PASSWORD_CHANGE]);
      const revoked = await signOutEverywhere(trx, user.id, 'password_changed', now, who.sessionId);
      await emitWebhookEvent(trx, 'password.changed', { userId: user.id }, now);
      const session = options.rotate
        ? await this.o.rotateSession(trx, who.sessionId, 'password_changed', ctx, now)
        : undefined;
      await enqueueMail(trx, passwordChangedMail(this.o.mail, user.email, 'changed'), now);
      await recordAuditEvent(
        trx,
        {
          type: 'password.changed',
          userId: user.id,
          data: {
            sessionId: who.sessionId,
            ...(session ? { newSessionId: session.sessionId } : {}),
            revokedSessions: revoked.length,
          },
          ...ctx,
        },
        now,
      );
      return session;
    });
    this.o.onMailQueued?.();
    return rotated;
  }

  /**
   * Mails a confirmation link to `newEmail`; the change happens when it is followed (see
   * `completeEmailChange`). An address that already has an account gets the same answer and
   * nothing happens (no enumeration).
   */
  async requestEmailChange(
    who: SignedIn,
    input: { newEmail: string; password: string },
    ctx: RequestContext,
  ): Promise<void> {
    const { db, clock } = this.o;
    const user = await this.confirmPassword(who, input.password, ctx, 'password');
    await this.o.accountLimits?.consume('change_email', input.newEmail);
    const now = clock();
    const taken = (await findUserByEmail(db, input.newEmail)) !== undefined;
    await db.transaction().execute(async (trx) => {
      // A taken address voids the earlier link too, as a new one would: a link that kept working
      // only when the address is taken would tell whoever asked that it is registered.
      if (taken) await voidEmailTokens(trx, user.id, ['change_email']);
      else {
        const token = generateToken();
        await replaceEmailToken(trx, {
          id: uuidv7(now.getTime()),
          userId: user.id,
          purpose: 'change_email',
          tokenHash: hashToken(token),
          newEmail: input.newEmail,
          now,
          expiresAt: addSeconds(now, this.o.changeEmailTtlSeconds),
        });
        await enqueueMail(
          trx,
          confirmNewEmailMail(this.o.mail, input.newEmail, token, this.o.changeEmailTtlSeconds),
          now,
        );
      }
      await recordAuditEvent(
        trx,
        {
          type: 'email_change.requested',
          userId: user.id,
          data: { newEmail: input.newEmail, ...(taken ? { outcome: 'address_taken' } : {}) },
          ...ctx,
        },
        now,
      );
    });
    if (!taken) this.o.onMailQueued?.();
  }

  /** The user's live sessions (signed-in devices), most recently used first. */
  async listSessions(who: SignedIn): Promise<DeviceSession[]> {
    const rows = await listLiveSessions(this.o.db, who.user.id, this.o.clock());
    return rows.map((row) => ({
      id: row.id,
      createdAt: row.created_at.toISOString(),
      lastSeenAt: row.last_seen_at.toISOString(),
      ip: row.ip,
      userAgent: row.user_agent,
      device: deviceLabel(row.user_agent),
      current: row.id === who.sessionId,
    }));
  }

  /**
   * Signs one of the user's own sessions out. Someone else's, an unknown, a dead or a malformed
   * id are all the same 404. Returns whether it was the caller's own session (cookie to clear).
   */
  async revokeSession(
    who: SignedIn,
    sessionId: string,
    ctx: RequestContext,
  ): Promise<{ current: boolean }> {
    if (!UUID.test(sessionId)) throw sessionNotFound();
    const { db, clock } = this.o;
    const now = clock();
    const revoked = await db.transaction().execute(async (trx) => {
      if (!(await isLiveSessionOf(trx, who.user.id, sessionId, now))) return false;
      if (!(await revokeSession(trx, sessionId, 'signed_out_by_user', now))) return false;
      await emitSessionsRevoked(trx, who.user.id, [sessionId], 'signed_out_by_user', now);
      await recordAuditEvent(
        trx,
        { type: 'session.revoked', userId: who.user.id, data: { sessionId }, ...ctx },
        now,
      );
      return true;
    });
    if (!revoked) throw sessionNotFound();
    return { current: sessionId === who.sessionId };
  }

  /** "Sign out everywhere else": every session of the user but the caller's. */
  async revokeOtherSessions(who: SignedIn, ctx: RequestContext): Promise<number> {
    const { db, clock } = this.o;
    const now = clock();
    return db.transaction().execute(async (trx) => {
      const revoked = await signOutEverywhere(
        trx,
        who.user.id,
        'signed_out_elsewhere',
        now,
        who.sessionId,
      );
      await recordAuditEvent(
        trx,
        {
          type: 'sessions.revoked_others',
          userId: who.user.id,
          data: { sessionId: who.sessionId, revokedSessions: revoked.length },
          ...ctx,
        },
        now,
      );
      return revoked.length;
    });
  }

  /** The signed-in user's password check; a wrong one is a failed login (401, throttled). */
  private async confirmPassword(
    who: SignedIn,
    password: string,
    ctx: RequestContext,
    field: string,
  ): Promise<UserWithRoles> {
    try {
      const user = await this.o.verifyCredentials({ email: who.user.email, password }, ctx);
      if (user.id !== who.user.id) throw errors.invalidCredentials();
      return user;
    } catch (error) {
      if (error instanceof AuthError && error.code === 'invalid_credentials') {
        const message = 'The current password is incorrect.';
        throw new AuthError('invalid_credentials', 401, message, {
          errors: [{ field, message }],
        });
      }
      throw error;
    }
  }

  /** The hash of a new password the policy accepts; a refusal names the form's field. */
  private async acceptNew(
    password: string,
    user: UserWithRoles,
    field: string,
    ctx: RequestContext,
  ): Promise<string> {
    const context = { email: user.email, name: user.name };
    const verdict = await this.o.policy.accept(password, context, { signal: ctx.signal });
    if (!verdict.ok) {
      throw new AuthError('weak_password', 400, verdict.message, {
        errors: [{ field, message: verdict.message }],
      });
    }
    return verdict.hash;
  }
}
