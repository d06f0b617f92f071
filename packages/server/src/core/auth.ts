// Over 400 lines on purpose: sign-up, verification and login share the pending-sign-up
// password checks, the throttle bookkeeping and the verification mail kept private here.
import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../store/audit.js';
import {
  clearSignupPassword,
  consumeEmailToken,
  findLiveEmailToken,
  insertEmailToken,
  type NewEmailToken,
  renewEmailToken,
  unusedVerifyTokens,
  voidEmailTokens,
} from '../store/email-tokens.js';
import { enqueueMail, type OutgoingMail } from '../store/outbox.js';
import type { Database, EmailTokenPurpose, Queryable } from '../store/schema.js';
import {
  findSessionByTokenHash,
  revokeSession,
  type SessionWithUser,
  touchSession,
} from '../store/sessions.js';
import {
  findUserByEmail,
  findUserById,
  findUserWithPendingSignups,
  insertUserWithSignup,
  isUniqueViolation,
  lockUser,
  type UserWithRoles,
  updateUser,
} from '../store/users.js';
import { completeEmailChange } from './email-change.js';
import { addSeconds, type Clock } from './clock.js';
import type { DeviceCookies } from './device-cookies.js';
import { errors } from './errors.js';
import { BackgroundJobs } from './background-jobs.js';
import { uuidv7 } from '../store/ids.js';
import type { SessionCache } from './session-cache.js';
import type { LoginThrottle, ThrottleTicket } from './throttle.js';
import {
  type MailContext,
  signupAttemptMail,
  signupLimitMail,
  verifyEmailMail,
} from './mail-templates.js';
import { normalizePassword, type PasswordPolicy } from './password-policy.js';
import type { PasswordHasher } from './passwords.js';
import {
  type AuthenticatedSession,
  type IssuedSession,
  type PublicUser,
  type RequestContext,
  type RotatedSession,
  toPublicUser,
} from './request.js';
import type { PendingSignIn, SecondStep } from './second-step.js';
import { parseAmr, SessionIssuer } from './session-issuer.js';
import { isSessionActive, type SessionTimeouts, slideIdleExpiry } from './sessions.js';
import { emitSessionsRevoked, emitWebhookEvent, webhookEvent } from './webhooks.js';
import { signOutEverywhere } from './sign-out.js';
import { generateToken, hashToken, isWellFormedToken, safeEqual } from './tokens.js';

/**
 * Unconfirmed sign-ups kept per address, as many as the default per-account register limit lets
 * through in an hour. Beyond it no sign-up is stored and no earlier one is dropped: the mailbox
 * is told to claim the account with a password reset instead.
 */
const MAX_PENDING_SIGNUPS = 3;

export interface AuthServiceOptions {
  db: Kysely<Database>;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  clock: Clock;
  mail: MailContext;
  sessions: SessionTimeouts;
  requireEmailVerification: boolean;
  verifyEmailTtlSeconds: number;
  /** Called after a transaction that queued mail commits, so the worker sends it now. */
  onMailQueued?: () => void;
  /** Failures of work done after the answer (resend-verification), for the log. */
  onBackgroundError?: (error: unknown, message: string) => void;
  /** The per-account throttle on failed passwords (core/throttle.ts). */
  throttle?: LoginThrottle;
  /** Signs and checks device cookies: a known browser is not held back by strangers' failures. */
  deviceCookies?: DeviceCookies;
  /** Validated sessions kept for a few seconds, invalidated on revocation. */
  sessionCache?: SessionCache;
  /** Opens and rotates sessions; made from `sessions` when not given. */
  issuer?: SessionIssuer;
  /** Starts the second step of an account with a factor (core/second-step.ts). */
  secondStep?: Pick<SecondStep, 'begin'>;
}

/**
 * A cookie sign-in: the session, or the pending sign-in of an account with a second factor, and
 * the device cookie that marks this browser as known (the password was right either way).
 */
export type LoginResult =
  | ({ kind: 'session'; deviceToken: string | undefined } & IssuedSession)
  | { kind: 'mfa'; deviceToken: string | undefined; pending: PendingSignIn };

export type RegisterResult = { kind: 'accepted' } | { kind: 'signed_in'; session: IssuedSession };

/**
 * The sign-up / sign-in flows. Framework-free: the http layer maps its results and AuthErrors
 * onto responses; the store does the SQL.
 */
export class AuthService {
  private readonly issuer: SessionIssuer;
  private readonly background: BackgroundJobs;

  constructor(private readonly o: AuthServiceOptions) {
    this.issuer = o.issuer ?? new SessionIssuer(o.sessions);
    this.background = new BackgroundJobs(o.onBackgroundError);
  }

  async register(
    input: { email: string; password: string; name?: string | undefined },
    ctx: RequestContext,
  ): Promise<RegisterResult> {
    const { db, clock } = this.o;
    const email = input.email;
    const context = { email, name: input.name ?? null };
    // The address is looked up first so that the rules and the hash are one job on a hashing
    // thread; a weak password is still refused before the address is said to be taken.
    const found = await findUserWithPendingSignups(db, email, clock());
    const existing = found?.user;
    if (existing && !this.o.requireEmailVerification) {
      const verdict = await this.o.policy.evaluate(input.password, context, ctx.signal);
      throw verdict.ok ? errors.emailTaken() : errors.weakPassword(verdict.message);
    }
    const claimable =
      existing !== undefined &&
      existing.email_verified_at === null &&
      existing.disabled_at === null;
    const pending = found?.pendingSignupHashes ?? []; // only a claimable account's
    // One hash in every branch, so that they all take the same time. A further sign-up for an
    // unverified address shares the salt of the pending ones: a login checks them all with one
    // hash (verifyCredentials), whatever their number.
    const accepted = await this.o.policy.accept(input.password, context, {
      signal: ctx.signal,
      like: pending[0],
    });
    if (!accepted.ok) throw errors.weakPassword(accepted.message);
    const passwordHash = accepted.hash;
    const now = clock();
    const signup = { passwordHash, name: input.name ?? null };

    if (existing) {
      await db.transaction().execute(async (trx) => {
        let outcome: string | undefined;
        if (claimable) {
          // Nobody has proved this mailbox yet. Each sign-up gets a link of its own that
          // activates its own password; none replaces or voids another's, so a pre-registrant
          // gains nothing unless the mailbox owner follows the pre-registrant's own link.
          await lockUser(trx, existing.id); // concurrent sign-ups count one after the other
          const live = (await unusedVerifyTokens(trx, existing.id)).filter(
            (t) => t.expires_at > now,
          );
          if (live.length < MAX_PENDING_SIGNUPS) {
            await this.queueVerification(trx, existing.id, existing.email, now, signup);
          } else {
            await enqueueMail(trx, signupLimitMail(this.o.mail, existing.email), now);
            outcome = 'pending_limit';
          }
        } else {
          await enqueueMail(trx, signupAttemptMail(this.o.mail, existing.email), now);
        }
        await recordAuditEvent(
          trx,
          {
            type: 'register.existing_email',
            userId: existing.id,
            ...(outcome ? { data: { outcome } } : {}),
            ...ctx,
          },
          now,
        );
      });
      this.o.onMailQueued?.();
      return { kind: 'accepted' };
    }

    const verifyFirst = this.o.requireEmailVerification;
    const row = {
      id: uuidv7(now.getTime()),
      email,
      // Until the mailbox is proved, the password and the name are the sign-up's, kept with its
      // link: the first of several sign-ups for an address may not be its owner's.
      name: verifyFirst ? null : (input.name ?? null),
      password_hash: verifyFirst ? null : passwordHash,
      email_verified_at: null,
      disabled_at: null,
      password_changed_at: now,
      created_at: now,
      updated_at: now,
    };
    const user: UserWithRoles = { ...row, roles: [] };
    try {
      await insertUserWithSignup(db, row, {
        ...this.verification(row.id, email, now, verifyFirst ? signup : undefined),
        audit: { type: 'register', userId: row.id, ...ctx },
        event: webhookEvent('user.created', { user: toPublicUser(user) }, now),
      });
    } catch (error) {
      // Another sign-up for the same address won the race: answer as for an existing email.
      if (!isUniqueViolation(error)) throw error;
      if (!this.o.requireEmailVerification) throw errors.emailTaken();
      return { kind: 'accepted' };
    }
    this.o.onMailQueued?.();
    if (this.o.requireEmailVerification) return { kind: 'accepted' };
    return { kind: 'signed_in', session: await this.startSession(user, ctx, now) };
  }

  /**
   * Follows a link from a mail. Every sign-up's link goes to the same mailbox and the mails look
   * alike, so a sign-up's link activates nothing by itself: `password` must be the one some
   * pending sign-up of the address chose, and that sign-up is activated, whichever link was
   * followed (its follower proved the mailbox and chose the password). A missing or unmatched
   * password leaves the link usable. Other links (email change, confirm-only) ignore `password`.
   * `presentedToken` is the session cookie the confirming browser sent: when it is a live
   * session of the same user and the link changed their email address, that session is rotated
   * and the answer carries its new cookie.
   */
  async verifyEmail(
    token: string,
    password: string | undefined,
    ctx: RequestContext,
    presentedToken?: string,
  ): Promise<{ user: PublicUser; session?: RotatedSession }> {
    if (!isWellFormedToken(token)) throw errors.invalidToken();
    const { db, clock } = this.o;
    // change_email: the second half of an email change (core/account.ts).
    const purposes: EmailTokenPurpose[] = ['verify_email', 'change_email'];
    const tokenHash = hashToken(token);
    const link = await findLiveEmailToken(db, tokenHash, purposes, clock());
    if (!link) throw errors.invalidToken();
    const chosen =
      link.password_hash === null ? undefined : await this.chosenSignup(link, password, ctx);
    const now = clock();
    const presented = presentedToken ? await this.authenticate(presentedToken) : null;
    let session: RotatedSession | undefined;
    const user = await db.transaction().execute(async (trx) => {
      const row = await consumeEmailToken(trx, tokenHash, purposes, now);
      if (!row) return undefined;
      const found = await findUserById(trx, row.user_id);
      if (!found || found.disabled_at !== null) return undefined;
      if (row.purpose === 'change_email') {
        const changed = await completeEmailChange(trx, row, found, now, this.o.mail, ctx);
        if (changed && presented?.user.id === found.id) {
          session = await this.issuer.rotate(trx, presented.sessionId, 'email_changed', ctx, now);
        }
        return changed;
      }
      let signup = {};
      if (row.password_hash !== null) {
        const attempt =
          chosen === row.id
            ? row
            : (await unusedVerifyTokens(trx, found.id)).find(
                (t) => t.id === chosen && t.expires_at > now,
              );
        // The chosen sign-up's link expired or was used in the meantime: spend nothing.
        if (!attempt?.password_hash) throw errors.invalidToken();
        signup = {
          password_hash: attempt.password_hash,
          name: attempt.name,
          password_changed_at: now,
        };
        await clearSignupPassword(trx, row.id);
      }
      if (found.email_verified_at === null) {
        await updateUser(trx, found.id, { email_verified_at: now, updated_at: now, ...signup });
        Object.assign(found, { email_verified_at: now }, signup);
        // The address is proved: every other sign-up's link stops working.
        await voidEmailTokens(trx, found.id, ['verify_email']);
        if (row.password_hash !== null) {
          await signOutEverywhere(trx, found.id, 'password_changed', now);
        }
        await emitWebhookEvent(trx, 'user.verified', { user: toPublicUser(found) }, now);
      }
      await recordAuditEvent(trx, { type: 'email.verified', userId: found.id, ...ctx }, now);
      return found;
    });
    if (!user) throw errors.invalidToken();
    this.o.onMailQueued?.(); // an email change tells the old address
    return { user: toPublicUser(user), ...(session ? { session } : {}) };
  }

  /**
   * The pending sign-up of the link's user whose password is `password` (the followed link's own
   * when it is one of several with that password). A wrong password is a failed password of the
   * account: throttled and audited like a failed login, since only the mailbox can send it.
   */
  private async chosenSignup(
    link: { id: string; user_id: string },
    password: string | undefined,
    ctx: RequestContext,
  ): Promise<string> {
    const { db, clock } = this.o;
    const user = await findUserById(db, link.user_id);
    if (!user || user.disabled_at !== null) throw errors.invalidToken();
    if (password === undefined) throw errors.passwordRequired();
    const ticket = await this.o.throttle?.begin(user.email);
    const now = clock();
    // The sign-ups whose links still work; the one the link belongs to wins a tie.
    const pending = (await unusedVerifyTokens(db, user.id)).filter(
      (t): t is typeof t & { password_hash: string } =>
        t.password_hash !== null && t.expires_at > now,
    );
    const matched = await this.matchingPendingSignup(
      pending.map((t) => t.password_hash),
      normalizePassword(password),
      ctx.signal,
    );
    if (matched === undefined) {
      await this.throttleFailed(ticket, user.id, ctx);
      await recordAuditEvent(
        db,
        {
          type: 'login.failed',
          userId: user.id,
          data: { reason: 'wrong_password', flow: 'verify_email' },
          ...ctx,
        },
        now,
      );
      throw errors.passwordMismatch();
    }
    if (ticket) await this.o.throttle?.succeeded(ticket);
    const withIt = pending.filter((t) => t.password_hash === matched);
    return (withIt.find((t) => t.id === link.id) ?? withIt[0])?.id as string;
  }

  /**
   * Always succeeds from the caller's view; mails a fresh link only to an unverified account.
   * The link renews the newest sign-up's: that sign-up's old link stops working and the new one
   * activates the same password. Anyone may ask, so it never touches another sign-up's link and
   * never adds a link beside the ones already out. An account with a password of its own
   * (REQUIRE_EMAIL_VERIFICATION=false, imported) and no pending link gets one that only confirms
   * the address; one with neither has nothing to confirm (signing up again makes a link). The
   * lookup and the writes run after the answer, so its timing cannot tell which case it was.
   */
  resendVerification(email: string, ctx: RequestContext): Promise<void> {
    const now = this.o.clock();
    return this.background.run(
      () => this.resendLink(email, ctx, now),
      'resend-verification: could not issue a link',
    );
  }

  /** Resolves once the background work started so far (resent links) is done. */
  settled(): Promise<void> {
    return this.background.settled();
  }

  private async resendLink(email: string, ctx: RequestContext, now: Date): Promise<void> {
    const { db } = this.o;
    const user = await findUserByEmail(db, email);
    if (!user || user.email_verified_at !== null || user.disabled_at !== null) return;
    const sent = await db.transaction().execute(async (trx) => {
      await lockUser(trx, user.id);
      const newest = (await unusedVerifyTokens(trx, user.id))[0];
      if (!newest && user.password_hash === null) return false;
      const token = generateToken();
      const expiresAt = addSeconds(now, this.o.verifyEmailTtlSeconds);
      if (newest) {
        await renewEmailToken(trx, newest.id, hashToken(token), expiresAt);
      } else {
        await insertEmailToken(trx, {
          id: uuidv7(now.getTime()),
          userId: user.id,
          purpose: 'verify_email',
          tokenHash: hashToken(token),
          now,
          expiresAt,
        });
      }
      const confirmOnly = !newest || newest.password_hash === null;
      await this.mailVerification(trx, user.email, token, now, confirmOnly);
      await recordAuditEvent(trx, { type: 'verification.resent', userId: user.id, ...ctx }, now);
      return true;
    });
    if (sent) this.o.onMailQueued?.();
  }

  /**
   * Checks the password and opens a new session. `cookies.session` (a session cookie the
   * browser already had) is revoked, never adopted: every login gets a fresh token.
   * `cookies.device` is the browser's device cookie, if any; the result carries a new one.
   */
  async login(
    input: { email: string; password: string },
    ctx: RequestContext,
    cookies: { session?: string | undefined; device?: string | undefined } = {},
  ): Promise<LoginResult> {
    const user = await this.verifyCredentials(input, ctx, cookies.device);
    // Bound to the address typed in, which the throttle keys on too.
    const deviceToken = this.o.deviceCookies?.issue(input.email);
    const pending = await this.o.secondStep?.begin(user, 'cookie', ctx);
    if (pending) return { kind: 'mfa', deviceToken, pending };
    const session = await this.signIn(user, ctx, { amr: ['pwd'] }, cookies.session);
    return { kind: 'session', ...session, deviceToken };
  }

  /**
   * Opens the session of a sign-in whose every step succeeded (a password, a second step, a
   * passkey). `previousToken` (a session cookie the browser already had) is revoked, never
   * adopted.
   */
  async signIn(
    user: UserWithRoles,
    ctx: RequestContext,
    how: { amr: string[]; method?: string },
    previousToken?: string,
  ): Promise<IssuedSession> {
    const now = this.o.clock();
    if (previousToken) {
      const previous = await this.lookup(previousToken);
      if (previous) {
        const { id, user_id: userId } = previous.session;
        await this.o.db.transaction().execute(async (trx) => {
          if (await revokeSession(trx, id, 'replaced_by_login', now)) {
            await emitSessionsRevoked(trx, userId, [id], 'replaced_by_login', now);
          }
        });
      }
    }
    return this.startSession(user, ctx, now, how);
  }

  /**
   * The password check shared by every way of signing in (cookie login, token endpoint): one
   * `invalid_credentials` for unknown email, wrong password and disabled account, the same time
   * for all three, `email_not_verified` only after the right password, and the hash upgraded
   * when it was made with older parameters. With a valid `deviceToken` for this email (a
   * browser that signed in here before) the attempt is throttled as that device alone.
   */
  async verifyCredentials(
    input: { email: string; password: string },
    ctx: RequestContext,
    deviceToken?: string,
  ): Promise<UserWithRoles> {
    const { db, clock, hasher } = this.o;
    const password = normalizePassword(input.password);
    const deviceId = this.o.deviceCookies?.deviceFor(deviceToken, input.email);
    // Throttled or locked: 429 before the account or the password is looked at.
    const ticket = await this.o.throttle?.begin(input.email, deviceId);
    const found = await findUserWithPendingSignups(db, input.email, clock());
    const user = found?.user;
    // The passwords of pending sign-ups (of an unconfirmed, enabled account) never sign in, but
    // the right one earns the same `email_not_verified` as the account's own password would.
    const pending = found?.pendingSignupHashes ?? [];
    if (!user || (user.password_hash === null && pending.length === 0)) {
      await hasher.verifyDummy(password, ctx.signal);
      await this.throttleFailed(ticket, user?.id ?? null, ctx);
      await recordAuditEvent(
        db,
        {
          type: 'login.failed',
          userId: user?.id ?? null,
          data: { reason: 'unknown_account' },
          ...ctx,
        },
        clock(),
      );
      throw errors.invalidCredentials();
    }
    const own =
      user.password_hash !== null &&
      (await hasher.verify(user.password_hash, password, ctx.signal));
    const signupOnly =
      !own &&
      pending.length > 0 &&
      (await this.matchingPendingSignup(pending, password, ctx.signal)) !== undefined;
    const ok = own || signupOnly;
    const now = clock();
    if (!ok || user.disabled_at !== null) {
      await this.throttleFailed(ticket, user.id, ctx);
      await recordAuditEvent(
        db,
        {
          type: 'login.failed',
          userId: user.id,
          data: { reason: ok ? 'disabled' : 'wrong_password' },
          ...ctx,
        },
        now,
      );
      throw errors.invalidCredentials();
    }
    if (ticket) await this.o.throttle?.succeeded(ticket);
    // Only now, with the right password, may the answer reveal that the address is unverified.
    if (user.email_verified_at === null && (this.o.requireEmailVerification || signupOnly)) {
      throw errors.emailNotVerified();
    }
    if (user.password_hash !== null && hasher.needsRehash(user.password_hash)) {
      const upgraded = await hasher.hash(password, ctx.signal);
      await updateUser(db, user.id, { password_hash: upgraded, updated_at: now });
    }
    return user;
  }

  /**
   * The session behind a cookie token, or null when it is unknown, revoked, expired or its user
   * is disabled. Slides the idle expiry, writing at most once a minute.
   */
  async authenticate(token: string): Promise<AuthenticatedSession | null> {
    const found = await this.cachedLookup(token);
    if (!found) return null;
    const { session, user } = found;
    const now = this.o.clock();
    const live = isSessionActive(
      {
        idleExpiresAt: session.idle_expires_at,
        absoluteExpiresAt: session.absolute_expires_at,
        revokedAt: session.revoked_at,
      },
      now,
    );
    if (!live || user.disabled_at !== null) return null;
    const slid = slideIdleExpiry(
      { lastSeenAt: session.last_seen_at, absoluteExpiresAt: session.absolute_expires_at },
      now,
      this.o.sessions,
    );
    if (slid) {
      await touchSession(this.o.db, session.id, slid);
      session.last_seen_at = slid.lastSeenAt; // the cached copy slides too
      session.idle_expires_at = slid.idleExpiresAt;
    }
    return {
      sessionId: session.id,
      csrfToken: session.csrf_token,
      user: toPublicUser(user),
      amr: parseAmr(session.amr),
      authenticatedAt: session.authenticated_at,
    };
  }

  /**
   * Ends the session that authenticated the request and, when the request authenticated with a
   * bearer token but also carried a session cookie (`cookieToken`), the cookie's live session
   * too, whoever's it is: signing out ends every session the client presented, so the cookie the
   * caller then clears never belongs to a session that stays live.
   */
  async logout(
    sessionId: string,
    userId: string,
    ctx: RequestContext,
    cookieToken?: string,
  ): Promise<void> {
    const now = this.o.clock();
    const cookieSession = cookieToken ? await this.authenticate(cookieToken) : null;
    const ended = [{ sessionId, userId }];
    if (cookieSession && cookieSession.sessionId !== sessionId) {
      ended.push({ sessionId: cookieSession.sessionId, userId: cookieSession.user.id });
    }
    await this.o.db.transaction().execute(async (trx) => {
      for (const one of ended) {
        if (await revokeSession(trx, one.sessionId, 'logout', now)) {
          await emitSessionsRevoked(trx, one.userId, [one.sessionId], 'logout', now);
        }
        await recordAuditEvent(
          trx,
          { type: 'logout', userId: one.userId, data: { sessionId: one.sessionId }, ...ctx },
          now,
        );
      }
    });
  }

  /** The lookup of `authenticate`, through the session cache when there is one. */
  private async cachedLookup(token: string): Promise<SessionWithUser | undefined> {
    const cache = this.o.sessionCache;
    if (!cache || !isWellFormedToken(token)) return this.lookup(token);
    const tokenHash = hashToken(token);
    const cached = cache.get(tokenHash);
    if (cached) return cached;
    const generation = cache.generation;
    const found = await findSessionByTokenHash(this.o.db, tokenHash);
    if (found) cache.set(tokenHash, found, generation);
    return found;
  }

  /**
   * Records a failed attempt's throttle outcome: starting a delay or a lock is an audit event,
   * of the account's untrusted clients or of one trusted device.
   */
  private async throttleFailed(
    ticket: ThrottleTicket | undefined,
    userId: string | null,
    ctx: RequestContext,
  ): Promise<void> {
    const outcome = ticket && this.o.throttle?.failureOutcome(ticket);
    if (!outcome || !ticket) return;
    const prefix = ticket.scope === 'device' ? 'login.device_' : 'login.';
    await recordAuditEvent(
      this.o.db,
      {
        type: `${prefix}${outcome}`,
        userId,
        data: { failures: ticket.failures },
        ...ctx,
      },
      this.o.clock(),
    );
  }

  private lookup(token: string): Promise<SessionWithUser | undefined> {
    if (!isWellFormedToken(token)) return Promise.resolve(undefined);
    return findSessionByTokenHash(this.o.db, hashToken(token));
  }

  private async startSession(
    user: UserWithRoles,
    ctx: RequestContext,
    now: Date,
    how: { amr?: string[]; method?: string } = {},
  ): Promise<IssuedSession> {
    const shown = toPublicUser(user);
    const { token, csrfToken, sessionId } = await this.issuer.open(
      this.o.db,
      user.id,
      ctx,
      now,
      how.method ? { method: how.method } : {},
      { amr: how.amr, user: shown },
    );
    return { token, csrfToken, sessionId, user: shown };
  }

  /**
   * The pending sign-up hash that `password` makes, if any. They share a salt (see `register`):
   * one hash per distinct salt, so the cost does not tell how many sign-ups are pending.
   */
  private async matchingPendingSignup(
    hashes: string[],
    password: string,
    signal: AbortSignal | undefined,
  ): Promise<string | undefined> {
    const bySalt = new Map<string, string[]>();
    for (const h of hashes) {
      const salted = h.slice(0, h.lastIndexOf('$'));
      bySalt.set(salted, [...(bySalt.get(salted) ?? []), h]);
    }
    let matched: string | undefined;
    for (const group of bySalt.values()) {
      const computed = await this.o.hasher.hashLike(group[0] as string, password, signal);
      if (computed !== undefined && group.some((h) => safeEqual(h, computed))) matched = computed;
    }
    return matched;
  }

  /**
   * Writes a verification link and its mail. `signup` (a sign-up awaiting its link) is what
   * following this link activates; without it the link only confirms the address.
   */
  private async queueVerification(
    trx: Queryable,
    userId: string,
    email: string,
    now: Date,
    signup?: { passwordHash: string; name: string | null },
  ) {
    const { token, mail } = this.verification(userId, email, now, signup);
    await insertEmailToken(trx, token);
    await enqueueMail(trx, mail, now);
  }

  /** The link and the mail `queueVerification` writes, for a statement that writes more. */
  private verification(
    userId: string,
    email: string,
    now: Date,
    signup?: { passwordHash: string; name: string | null },
  ): { token: NewEmailToken; mail: OutgoingMail } {
    const token = generateToken();
    return {
      token: {
        id: uuidv7(now.getTime()),
        userId,
        purpose: 'verify_email',
        tokenHash: hashToken(token),
        passwordHash: signup?.passwordHash ?? null,
        name: signup?.name ?? null,
        now,
        expiresAt: addSeconds(now, this.o.verifyEmailTtlSeconds),
      },
      mail: verifyEmailMail(this.o.mail, email, token, this.o.verifyEmailTtlSeconds, !signup),
    };
  }

  private async mailVerification(
    trx: Queryable,
    email: string,
    token: string,
    now: Date,
    confirmOnly: boolean,
  ) {
    const ttl = this.o.verifyEmailTtlSeconds;
    await enqueueMail(trx, verifyEmailMail(this.o.mail, email, token, ttl, confirmOnly), now);
  }
}
