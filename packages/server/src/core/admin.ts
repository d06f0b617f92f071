// Over 400 lines on purpose: every change to a user or a role goes through the same privilege
// checks, last-admin lock and refusal auditing (the private methods at the end) — one class.
import type { Kysely } from 'kysely';
import type { ProblemCode } from '@latchkey/contract';
import { recordAuditEvent, searchAuditEvents } from '../store/audit.js';
import { voidEmailTokens } from '../store/email-tokens.js';
import { enqueueMail } from '../store/outbox.js';
import { revokeUserRefreshTokens } from '../store/refresh-tokens.js';
import { listLiveSessions, refreshCachedUser } from '../store/sessions.js';
import {
  countOtherEnabledAdmins,
  existingRoles,
  insertRole,
  listPermissions,
  listRoles,
  lockAdminChanges,
  permissionsOfRoles,
  setUserRoles,
} from '../store/rbac.js';
import type { Database, Queryable } from '../store/schema.js';
import {
  deleteUserAndData,
  findUserByEmail,
  findUserById,
  insertUser,
  isUniqueViolation,
  searchUsers,
  updateUser,
  type UserWithRoles,
} from '../store/users.js';
import {
  type AdminSession,
  type AdminUser,
  ADMIN_ROLE,
  type AuditEventView,
  decodeCursor,
  PERMISSIONS,
  page,
  UUID,
  toAdminUser,
  toAuditEventView,
} from './admin-views.js';
import { type RequestContext, toPublicUser } from './request.js';
import type { MailContext } from './mail-templates.js';
import { factorChangedMail } from './mfa-mails.js';
import type { Clock } from './clock.js';
import { deviceLabel } from './devices.js';
import { AuthError, errors } from './errors.js';
import { uuidv7 } from '../store/ids.js';
import { emitWebhookEvent } from './webhooks.js';
import { signOutEverywhere } from './sign-out.js';
import { removeAllFactors } from './factors.js';
import type { PasswordPolicy } from './password-policy.js';

/**
 * Ends every session, every refresh family and every pending second step of a user at once
 * (disable, delete, revoke, forced reset); returns how many sessions were live.
 */
async function revokeEverything(
  trx: Queryable,
  userId: string,
  reason: string,
  now: Date,
): Promise<number> {
  const revoked = await signOutEverywhere(trx, userId, reason, now);
  await revokeUserRefreshTokens(trx, userId, now);
  return revoked.length;
}

/** Who acts: a signed-in admin (`id`), or the command line / the bootstrap (`id: null`). */
export interface Actor {
  id: string | null;
  via: 'api' | 'cli' | 'bootstrap';
}

export interface AdminServiceOptions {
  db: Kysely<Database>;
  clock: Clock;
  policy: PasswordPolicy;
  /** AccountService's reset-link writer (forced reset); absent in the CLI. */
  resetLinks?: {
    queueResetLink(trx: Queryable, user: { id: string; email: string }, now: Date): Promise<void>;
  };
  /** Names and links in the mails an admin action sends (removed second factors); absent in the CLI. */
  mail?: MailContext;
  onMailQueued?: () => void;
}

const userNotFound = () => new AuthError('not_found', 404, 'There is no such user.');
const lastAdmin = () =>
  new AuthError(
    'last_admin',
    409,
    'This would leave no enabled account with the admin role: give the role to someone else first.',
  );
const notOnYourself = (what: string) =>
  new AuthError('cannot_change_self', 409, `You cannot ${what} your own account.`);

/**
 * An admin action refused for lack of privilege: answered 403 and, once the transaction has
 * rolled back, recorded as an `admin.denied` audit event with `audit` in its data.
 */
class PrivilegeDenied extends AuthError {
  constructor(
    code: ProblemCode,
    message: string,
    readonly audit: Record<string, unknown>,
  ) {
    super(code, 403, message);
  }
}

/** The permissions of `needed` that `held` lacks, sorted. */
const lacking = (needed: Iterable<string>, held: Set<string>) =>
  [...needed].filter((p) => !held.has(p)).sort();

/**
 * Roles, permissions and user administration, for the admin API and the CLI alike.
 * Framework-free; the SQL is in the store files it imports. Every change is an audit row
 * naming the acting admin (`actor_id`). Sessions end only through store/sessions.ts.
 */
export class AdminService {
  constructor(private readonly o: AdminServiceOptions) {}

  /** The permissions the roles grant; `admin` has every one, including ones added later. */
  async permissionsOf(roles: string[], db: Queryable = this.o.db): Promise<Set<string>> {
    if (roles.includes(ADMIN_ROLE)) return new Set(PERMISSIONS);
    return permissionsOfRoles(db, roles);
  }

  async listUsers(filter: {
    q?: string | undefined;
    verified?: boolean | undefined;
    disabled?: boolean | undefined;
    role?: string | undefined;
    cursor?: string | undefined;
    limit: number;
  }): Promise<{ users: AdminUser[]; nextCursor: string | null }> {
    const rows = await searchUsers(this.o.db, {
      q: filter.q,
      verified: filter.verified,
      disabled: filter.disabled,
      role: filter.role,
      beforeId: decodeCursor(filter.cursor),
      limit: filter.limit + 1,
    });
    const { items, nextCursor } = page(rows, filter.limit);
    return { users: items.map(toAdminUser), nextCursor };
  }

  async getUser(id: string): Promise<{ user: AdminUser; sessions: AdminSession[] }> {
    const user = await this.find(id);
    const sessions = await listLiveSessions(this.o.db, user.id, this.o.clock());
    return {
      user: toAdminUser(user),
      sessions: sessions.map((s) => ({
        id: s.id,
        createdAt: s.created_at.toISOString(),
        lastSeenAt: s.last_seen_at.toISOString(),
        ip: s.ip,
        userAgent: s.user_agent,
        device: deviceLabel(s.user_agent),
      })),
    };
  }

  /** The user with this email (CLI), or a 404 AuthError. */
  async findByEmail(email: string): Promise<AdminUser> {
    const user = await findUserByEmail(this.o.db, email.trim());
    if (!user) throw userNotFound();
    return toAdminUser(user);
  }

  /**
   * Changes the disabled flag, the roles and/or the name. Disabling ends every session and
   * refresh family at once. Nobody may disable themselves or change their own roles, and no
   * change may leave the service without an enabled admin. Through the API, changing roles
   * needs roles:write, the target's permissions must be within the actor's, and every role
   * given must carry only permissions the actor holds.
   */
  async updateUser(
    actor: Actor,
    id: string,
    changes: { disabled?: boolean | undefined; roles?: string[] | undefined; name?: string | null },
    ctx: RequestContext,
  ): Promise<AdminUser> {
    const { db, clock } = this.o;
    const roles = changes.roles ? [...new Set(changes.roles)].sort() : undefined;
    if (roles) {
      const known = await existingRoles(db, roles);
      const unknown = roles.filter((r) => !known.has(r));
      if (unknown.length > 0) {
        const message = `No such role: ${unknown.join(', ')}.`;
        throw new AuthError('unknown_role', 400, message, {
          errors: [{ field: 'roles', message }],
        });
      }
    }
    if (changes.disabled === true && actor.id === id) throw notOnYourself('disable');
    const now = clock();
    const attempt = { action: 'user.update', targetId: id, changes };
    const updated = await this.refusalsAudited(actor, attempt, ctx, () =>
      db.transaction().execute(async (trx) => {
        await lockAdminChanges(trx);
        const user = await this.find(id, trx);
        const changesRoles = roles !== undefined && roles.join(',') !== user.roles.join(',');
        const held = await this.actorPermissions(actor, trx);
        if (held && changesRoles) await this.ensureMayChangeRoles(actor, held, user, roles, trx);
        await this.ensureWithinReach(held, user, trx);
        const event = (type: string, data: Record<string, unknown> = {}) =>
          recordAuditEvent(
            trx,
            { type, userId: user.id, actorId: actor.id, data: { ...data, via: actor.via }, ...ctx },
            now,
          );
        const wasAdmin = user.roles.includes(ADMIN_ROLE) && user.disabled_at === null;
        const staysAdmin =
          (roles ?? user.roles).includes(ADMIN_ROLE) &&
          (changes.disabled ?? user.disabled_at !== null) === false;
        if (wasAdmin && !staysAdmin && (await countOtherEnabledAdmins(trx, user.id)) === 0) {
          throw lastAdmin();
        }
        let touched = false;
        const changed: string[] = [];
        if (changes.name !== undefined && changes.name !== user.name) {
          await updateUser(trx, user.id, { name: changes.name, updated_at: now });
          await event('user.renamed', { name: changes.name });
          touched = true;
          changed.push('name');
        }
        if (roles && changesRoles) {
          await setUserRoles(trx, user.id, roles, now);
          await updateUser(trx, user.id, { updated_at: now });
          await event('user.roles_changed', { from: user.roles, to: roles });
          touched = true;
          changed.push('roles');
        }
        if (changes.disabled === true && user.disabled_at === null) {
          await updateUser(trx, user.id, { disabled_at: now, updated_at: now });
          // Links mailed before stop working for good: enabling the account must not revive an
          // intruder's pending email change.
          await voidEmailTokens(trx, user.id, ['reset_password', 'change_email', 'verify_email']);
          const revokedSessions = await revokeEverything(trx, user.id, 'user_disabled', now);
          await event('user.disabled', { revokedSessions });
          changed.push('disabled');
        } else if (changes.disabled === false && user.disabled_at !== null) {
          await updateUser(trx, user.id, { disabled_at: null, updated_at: now });
          await event('user.enabled');
          changed.push('disabled');
        }
        // Cached sessions show the new name and roles on the very next request.
        if (touched) await refreshCachedUser(trx, user.id);
        const after = await this.find(user.id, trx);
        if (changed.length > 0) {
          await emitWebhookEvent(
            trx,
            'user.updated',
            {
              user: toPublicUser(after),
              data: { changed: changed.join(','), disabled: after.disabled_at !== null },
            },
            now,
          );
        }
        return after;
      }),
    );
    return toAdminUser(updated);
  }

  /** Deletes the account and everything of theirs; the audit trail keeps its rows. */
  async deleteUser(actor: Actor, id: string, ctx: RequestContext): Promise<void> {
    if (actor.id === id) throw notOnYourself('delete');
    const now = this.o.clock();
    const attempt = { action: 'user.delete', targetId: id };
    await this.refusalsAudited(actor, attempt, ctx, () =>
      this.o.db.transaction().execute(async (trx) => {
        await lockAdminChanges(trx);
        const user = await this.find(id, trx);
        await this.ensureWithinReach(await this.actorPermissions(actor, trx), user, trx);
        if (
          user.roles.includes(ADMIN_ROLE) &&
          user.disabled_at === null &&
          (await countOtherEnabledAdmins(trx, user.id)) === 0
        ) {
          throw lastAdmin();
        }
        // Through the store's revoke, so every instance's session cache drops them first.
        await revokeEverything(trx, user.id, 'user_deleted', now);
        await emitWebhookEvent(trx, 'user.deleted', { user: toPublicUser(user) }, now);
        await deleteUserAndData(trx, user);
        await recordAuditEvent(
          trx,
          {
            type: 'user.deleted',
            userId: user.id,
            actorId: actor.id,
            data: { email: user.email, via: actor.via },
            ...ctx,
          },
          now,
        );
      }),
    );
  }

  /** Signs the user out everywhere (sessions and refresh families). */
  async revokeSessions(actor: Actor, id: string, ctx: RequestContext): Promise<number> {
    const now = this.o.clock();
    const attempt = { action: 'user.revoke_sessions', targetId: id };
    return this.refusalsAudited(actor, attempt, ctx, () =>
      this.o.db.transaction().execute(async (trx) => {
        // Taken so that no concurrent change of roles slips between the check and the action.
        await lockAdminChanges(trx);
        const user = await this.find(id, trx);
        await this.ensureWithinReach(await this.actorPermissions(actor, trx), user, trx);
        const revokedSessions = await revokeEverything(trx, user.id, 'revoked_by_admin', now);
        await recordAuditEvent(
          trx,
          {
            type: 'admin.sessions_revoked',
            userId: user.id,
            actorId: actor.id,
            data: { revokedSessions, via: actor.via },
            ...ctx,
          },
          now,
        );
        return revokedSessions;
      }),
    );
  }

  /**
   * Forces a password reset: the current password stops working, every session ends, and a
   * reset link is mailed (the same link as forgot-password's).
   */
  async forcePasswordReset(actor: Actor, id: string, ctx: RequestContext): Promise<void> {
    const resetLinks = this.o.resetLinks;
    if (!resetLinks) throw new Error('forcePasswordReset needs the reset-link writer');
    const now = this.o.clock();
    const attempt = { action: 'user.reset_password', targetId: id };
    await this.refusalsAudited(actor, attempt, ctx, () =>
      this.o.db.transaction().execute(async (trx) => {
        await lockAdminChanges(trx);
        const user = await this.find(id, trx);
        await this.ensureWithinReach(await this.actorPermissions(actor, trx), user, trx);
        if (user.disabled_at !== null) {
          throw new AuthError('user_disabled', 409, 'The account is disabled: enable it first.');
        }
        await updateUser(trx, user.id, {
          password_hash: null,
          password_changed_at: now,
          updated_at: now,
        });
        await voidEmailTokens(trx, user.id, ['change_email']);
        const revokedSessions = await revokeEverything(trx, user.id, 'admin_password_reset', now);
        await resetLinks.queueResetLink(trx, user, now);
        await recordAuditEvent(
          trx,
          {
            type: 'admin.password_reset',
            userId: user.id,
            actorId: actor.id,
            data: { revokedSessions, via: actor.via },
            ...ctx,
          },
          now,
        );
      }),
    );
    this.o.onMailQueued?.();
  }

  /**
   * Removes every second factor of a user (authenticator app, recovery codes, passkeys), for a
   * user who lost them: the next sign-in needs only the password. Audited; the user is mailed.
   */
  async removeSecondFactors(actor: Actor, id: string, ctx: RequestContext): Promise<void> {
    const mail = this.o.mail;
    if (!mail) throw new Error('removeSecondFactors needs the mail context');
    const now = this.o.clock();
    const attempt = { action: 'user.remove_mfa', targetId: id };
    await this.refusalsAudited(actor, attempt, ctx, () =>
      this.o.db.transaction().execute(async (trx) => {
        await lockAdminChanges(trx);
        const user = await this.find(id, trx);
        await this.ensureWithinReach(await this.actorPermissions(actor, trx), user, trx);
        const { totp, passkeys, recoveryCodes } = await removeAllFactors(trx, user.id);
        await enqueueMail(
          trx,
          factorChangedMail(mail, user.email, { kind: 'reset_by_admin' }),
          now,
        );
        await recordAuditEvent(
          trx,
          {
            type: 'admin.mfa_removed',
            userId: user.id,
            actorId: actor.id,
            data: { totp, passkeys, recoveryCodes, via: actor.via },
            ...ctx,
          },
          now,
        );
        if (totp || passkeys > 0) {
          await emitWebhookEvent(
            trx,
            'mfa.disabled',
            { userId: user.id, data: { method: 'all', byAdmin: true } },
            now,
          );
        }
      }),
    );
    this.o.onMailQueued?.();
  }

  async listRoles() {
    const [roles, permissions] = await Promise.all([
      listRoles(this.o.db),
      listPermissions(this.o.db),
    ]);
    return {
      roles: roles.map((r) => ({
        name: r.name,
        description: r.description,
        permissions: r.name === ADMIN_ROLE ? [...PERMISSIONS].sort() : r.permissions,
        builtIn: r.name === ADMIN_ROLE,
        createdAt: r.createdAt.toISOString(),
      })),
      permissions,
    };
  }

  /**
   * A custom role with some of the known permissions. 409 when the name is taken; through the
   * API, 403 when it would grant a permission the actor does not hold.
   */
  async createRole(
    actor: Actor,
    input: { name: string; description?: string | undefined; permissions: string[] },
    ctx: RequestContext,
  ) {
    const permissions = [...new Set(input.permissions)].sort();
    const unknown = permissions.filter((p) => !(PERMISSIONS as readonly string[]).includes(p));
    if (unknown.length > 0) {
      const message = `No such permission: ${unknown.join(', ')}.`;
      throw new AuthError('unknown_permission', 400, message, {
        errors: [{ field: 'permissions', message }],
      });
    }
    const now = this.o.clock();
    const attempt = { action: 'role.create', role: input.name, permissions };
    await this.refusalsAudited(actor, attempt, ctx, () =>
      this.o.db.transaction().execute(async (trx) => {
        const held = await this.actorPermissions(actor, trx);
        const missing = held ? lacking(permissions, held) : [];
        if (missing.length > 0) {
          throw new PrivilegeDenied(
            'insufficient_privilege',
            `You cannot create a role granting ${missing.join(', ')}, which your roles do not.`,
            { reason: 'grant_permission', missing },
          );
        }
        const created = await insertRole(
          trx,
          { name: input.name, description: input.description ?? '', permissions },
          now,
        );
        if (!created) throw new AuthError('role_exists', 409, 'A role with this name exists.');
        await recordAuditEvent(
          trx,
          {
            type: 'role.created',
            actorId: actor.id,
            data: { role: input.name, permissions, via: actor.via },
            ...ctx,
          },
          now,
        );
      }),
    );
    return {
      name: input.name,
      description: input.description ?? '',
      permissions,
      builtIn: false,
      createdAt: now.toISOString(),
    };
  }

  async auditEvents(filter: {
    userId?: string | undefined;
    types?: string[] | undefined;
    from?: Date | undefined;
    to?: Date | undefined;
    cursor?: string | undefined;
    limit: number;
  }): Promise<{ events: AuditEventView[]; nextCursor: string | null }> {
    const rows = await searchAuditEvents(this.o.db, {
      userId: filter.userId,
      types: filter.types,
      from: filter.from,
      to: filter.to,
      beforeId: decodeCursor(filter.cursor),
      limit: filter.limit + 1,
    });
    const { items, nextCursor } = page(rows, filter.limit);
    return { events: items.map(toAuditEventView), nextCursor };
  }

  /**
   * A user's own recent security events (GET /auth/activity): what happened and from where,
   * whether an admin did it, but not who (nor the other fields an admin sees).
   */
  async activity(userId: string, cursor: string | undefined, limit: number) {
    const { events, nextCursor } = await this.auditEvents({ userId, cursor, limit });
    return {
      events: events.map((e) => ({
        id: e.id,
        type: e.type,
        createdAt: e.createdAt,
        ip: e.ip,
        userAgent: e.userAgent,
        device: deviceLabel(e.userAgent),
        byAdmin: e.actorId !== null && e.actorId !== userId,
      })),
      nextCursor,
    };
  }

  /**
   * A verified account with the admin role (`latchkey create-admin`, the bootstrap). The
   * password meets the same policy as every other; an existing email is refused (409).
   */
  async createAdmin(
    actor: Actor,
    input: { email: string; password: string; name?: string | undefined },
    ctx: RequestContext = { ip: null, userAgent: null },
  ): Promise<AdminUser> {
    const email = input.email.trim();
    const verdict = await this.o.policy.accept(
      input.password,
      { email, name: input.name ?? null },
      { signal: ctx.signal },
    );
    if (!verdict.ok) throw errors.weakPassword(verdict.message);
    const passwordHash = verdict.hash;
    const now = this.o.clock();
    try {
      const user = await this.o.db.transaction().execute(async (trx) => {
        if (await findUserByEmail(trx, email)) throw errors.emailTaken();
        const created = await insertUser(trx, {
          id: uuidv7(now.getTime()),
          email,
          name: input.name ?? null,
          password_hash: passwordHash,
          email_verified_at: now,
          disabled_at: null,
          password_changed_at: now,
          created_at: now,
          updated_at: now,
        });
        await setUserRoles(trx, created.id, [ADMIN_ROLE], now);
        await emitWebhookEvent(trx, 'user.created', { userId: created.id }, now);
        await recordAuditEvent(
          trx,
          {
            type: 'admin.created',
            userId: created.id,
            actorId: actor.id,
            data: { via: actor.via },
            ...ctx,
          },
          now,
        );
        return { ...created, roles: [ADMIN_ROLE] };
      });
      return toAdminUser(user);
    } catch (error) {
      if (isUniqueViolation(error)) throw errors.emailTaken();
      throw error;
    }
  }

  /**
   * BOOTSTRAP_ADMIN_EMAIL + _PASSWORD at start: creates that admin only when no account holds
   * the admin role yet, and never touches an existing account.
   */
  async bootstrap(input: {
    email: string;
    password: string;
  }): Promise<'created' | 'admin_exists' | 'account_exists'> {
    const admins = await searchUsers(this.o.db, { role: ADMIN_ROLE, limit: 1 });
    if (admins.length > 0) return 'admin_exists';
    if (await findUserByEmail(this.o.db, input.email)) return 'account_exists';
    try {
      await this.createAdmin({ id: null, via: 'bootstrap' }, input);
      return 'created';
    } catch (error) {
      // Another instance starting at the same time created it a moment ago.
      if (error instanceof AuthError && error.code === 'email_taken') return 'admin_exists';
      throw error;
    }
  }

  /**
   * What an API actor may do, read again inside the transaction (a role taken away a moment ago
   * counts); null for the command line and the bootstrap, which the operator runs unrestricted.
   */
  private async actorPermissions(actor: Actor, db: Queryable): Promise<Set<string> | null> {
    if (actor.id === null) return null;
    const user = await findUserById(db, actor.id);
    if (!user || user.disabled_at !== null) return new Set();
    return this.permissionsOf(user.roles, db);
  }

  /**
   * Roles are changed by someone else holding roles:write, who gives only roles whose
   * permissions they hold themselves (so only a holder of every permission gives `admin`).
   */
  private async ensureMayChangeRoles(
    actor: Actor,
    held: Set<string>,
    user: UserWithRoles,
    roles: string[],
    db: Queryable,
  ): Promise<void> {
    if (actor.id === user.id) {
      throw new PrivilegeDenied(
        'cannot_change_own_roles',
        'You cannot change your own roles: another administrator has to.',
        { reason: 'own_roles' },
      );
    }
    if (!held.has('roles:write')) {
      throw new PrivilegeDenied(
        'forbidden',
        'Changing roles needs the roles:write permission, which your roles do not grant.',
        { reason: 'missing_permission', permission: 'roles:write' },
      );
    }
    for (const role of roles.filter((r) => !user.roles.includes(r))) {
      const missing = lacking(await this.permissionsOf([role], db), held);
      if (missing.length > 0) {
        throw new PrivilegeDenied(
          'insufficient_privilege',
          `You cannot give the role ${role}: it grants ${missing.join(', ')}, which your roles do not.`,
          { reason: 'grant_role', role, missing },
        );
      }
    }
  }

  /** Nobody acts on an account whose permissions exceed their own. */
  private async ensureWithinReach(
    held: Set<string> | null,
    target: UserWithRoles,
    db: Queryable,
  ): Promise<void> {
    if (!held) return;
    const missing = lacking(await this.permissionsOf(target.roles, db), held);
    if (missing.length > 0) {
      throw new PrivilegeDenied(
        'insufficient_privilege',
        'This account holds permissions your roles do not grant: only someone holding all of them can act on it.',
        { reason: 'target_outranks', missing },
      );
    }
  }

  /**
   * Runs an admin action; a refusal for lack of privilege is recorded as `admin.denied` with
   * the attempt, outside the action's rolled-back transaction, and then answered.
   */
  private async refusalsAudited<T>(
    actor: Actor,
    attempt: Record<string, unknown>,
    ctx: RequestContext,
    work: () => Promise<T>,
  ): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof PrivilegeDenied) {
        await recordAuditEvent(
          this.o.db,
          {
            type: 'admin.denied',
            userId: actor.id,
            actorId: actor.id,
            data: { ...attempt, ...error.audit, via: actor.via },
            ip: ctx.ip,
            userAgent: ctx.userAgent,
          },
          this.o.clock(),
        );
      }
      throw error;
    }
  }

  private async find(id: string, db: Queryable = this.o.db): Promise<UserWithRoles> {
    if (!UUID.test(id)) throw userNotFound();
    const user = await findUserById(db, id);
    if (!user) throw userNotFound();
    return user;
  }
}
