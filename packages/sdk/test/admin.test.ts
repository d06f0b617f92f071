import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthRoutes } from '../../server/src/http/routes/health.js';
import { setUserRoles } from '../../server/src/store/rbac.js';
import { verifiedUser } from '../../server/test/support/account.js';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../../server/test/support/app.js';
import { backends } from '../../server/test/support/db.js';
import { createClient, LatchkeyError, memoryCookieJar, PROBLEM_CODES } from '../src/index.js';

/** A UUID no user has. */
const UNKNOWN_ID = '00000000-0000-7000-8000-000000000000';

describe.each(backends)(
  '@latchkey/sdk: activity, operations and the admin API on %s',
  (backend) => {
    let t: TestApp;
    let baseUrl: string;
    beforeAll(async () => {
      t = await createTestApp(backend, { RATE_LIMITS: 'off' });
      baseUrl = await t.app.listen({ port: 0, host: '127.0.0.1' });
    });
    afterAll(() => t.close());

    /** A verified user with these roles, signed in through the SDK (cookie mode unless told). */
    async function signedIn(
      tag: string,
      roles: string[] = [],
      mode: 'cookie' | 'token' = 'cookie',
    ) {
      const { email, id } = await verifiedUser(t, `sdk-${tag}`);
      if (roles.length) await setUserRoles(t.database.db, id, roles, new Date());
      const client = createClient({ baseUrl, mode, cookieJar: memoryCookieJar() });
      await client.login({ email, password: STRONG_PASSWORD });
      return { client, email, id };
    }

    /** Fails the test unless `promise` rejects with a LatchkeyError of this status and code. */
    async function refused(promise: Promise<unknown>, status: number, code: string) {
      const error = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(LatchkeyError);
      expect(error).toMatchObject({ status, code });
      expect(PROBLEM_CODES).toContain(code);
      return error as LatchkeyError;
    }

    describe('activity', () => {
      it('pages through your own security events, newest first', async () => {
        const { client } = await signedIn('activity');
        const first = await client.activity({ limit: 1 });
        expect(first.events).toHaveLength(1);
        expect(first.events[0]).toMatchObject({ type: 'login.succeeded', byAdmin: false });
        expect(first.nextCursor).toEqual(expect.any(String));
        const next = await client.activity({ cursor: first.nextCursor as string, limit: 10 });
        expect(next.events.map((e) => e.type)).toContain('email.verified');
        expect(next.events.some((e) => e.id === first.events[0]?.id)).toBe(false);
      });

      it('refuses a cursor it did not give out, and anonymous callers', async () => {
        const { client } = await signedIn('activity-bad');
        const error = await refused(
          client.activity({ cursor: 'bm90LWEtY3Vyc29y' }),
          400,
          'invalid_cursor',
        );
        expect(error.fieldErrors.map((f) => f.field)).toEqual(['cursor']);
        await refused(createClient({ baseUrl }).activity(), 401, 'unauthenticated');
      });
    });

    describe('operations', () => {
      it('health and ready answer ok', async () => {
        const client = createClient({ baseUrl });
        expect(await client.health()).toEqual({ status: 'ok' });
        const ready = await client.ready();
        expect(ready.status).toBe('ok');
        expect(Object.values(ready.checks ?? {})).not.toHaveLength(0);
      });

      it('ready reports a dependency that does not answer as 503 not_ready', async () => {
        // The server's own readiness route, with a check that fails.
        const app = Fastify({ logger: false });
        app.setValidatorCompiler(validatorCompiler);
        app.setSerializerCompiler(serializerCompiler);
        await app.register(healthRoutes, {
          checks: { database: () => Promise.reject(new Error('connection refused')) },
        });
        const url = await app.listen({ port: 0, host: '127.0.0.1' });
        try {
          const error = await refused(createClient({ baseUrl: url }).ready(), 503, 'not_ready');
          expect(error.message).toBe('The database is not reachable.');
        } finally {
          await app.close();
        }
        // The client's own code (not the server's): nobody answered.
        await expect(
          createClient({ baseUrl: 'http://127.0.0.1:9' }).health(),
        ).rejects.toMatchObject({ status: 0, code: 'network_error' });
      });
    });

    describe('admin: users', () => {
      it('lists users with a search and filters, and pages', async () => {
        const { client } = await signedIn('admin-list', ['admin']);
        const prefix = `sdk-listed-${randomUUID().slice(0, 6)}`;
        const a = await verifiedUser(t, prefix);
        const b = await verifiedUser(t, prefix);
        const page = await client.admin.listUsers({ q: prefix, verified: true, limit: 1 });
        expect(page.users.map((u) => u.id)).toEqual([b.id]); // newest first
        expect(page.users[0]).toMatchObject({ emailVerified: true, disabled: false, roles: [] });
        const rest = await client.admin.listUsers({
          q: prefix,
          cursor: page.nextCursor as string,
          disabled: false,
        });
        expect(rest.users.map((u) => u.id)).toEqual([a.id]);
        expect(rest.nextCursor).toBeNull();
        expect((await client.admin.listUsers({ q: prefix, disabled: true })).users).toEqual([]);
      });

      it('listUsers needs users:read: 403 forbidden without it', async () => {
        const { client } = await signedIn('admin-list-denied');
        await refused(client.admin.listUsers(), 403, 'forbidden');
      });

      it('gets one user with their sessions; 404 not_found for an unknown id', async () => {
        const { client } = await signedIn('admin-get', ['admin']);
        const target = await signedIn('admin-get-target');
        const detail = await client.admin.getUser(target.id);
        expect(detail.user).toMatchObject({ id: target.id, email: target.email });
        expect(detail.sessions).toHaveLength(1);
        await refused(client.admin.getUser(UNKNOWN_ID), 404, 'not_found');
      });

      it('updates a user; a role name that is not one is 400 validation_failed', async () => {
        const { client } = await signedIn('admin-update', ['admin']);
        const target = await signedIn('admin-update-target');
        const user = await client.admin.updateUser(target.id, { name: 'Grace' });
        expect(user).toMatchObject({ id: target.id, name: 'Grace' });
        expect((await target.client.me()).user.name).toBe('Grace');
        const error = await refused(
          client.admin.updateUser(target.id, { roles: ['Not A Role'] }),
          400,
          'validation_failed',
        );
        expect(error.fieldErrors[0]?.field).toMatch(/^roles/);
      });

      it('disables a user, which ends their sessions; disabling yourself is 409 cannot_change_self', async () => {
        const { client, id } = await signedIn('admin-disable', ['admin']);
        const target = await signedIn('admin-disable-target');
        const user = await client.admin.disableUser(target.id);
        expect(user).toMatchObject({ disabled: true, disabledAt: expect.any(String) });
        await refused(target.client.me(), 401, 'unauthenticated');
        await refused(client.admin.disableUser(id), 409, 'cannot_change_self');
      });

      it('enables a user again; an unknown id is 404 not_found', async () => {
        const { client } = await signedIn('admin-enable', ['admin']);
        const target = await signedIn('admin-enable-target');
        await client.admin.disableUser(target.id);
        const user = await client.admin.enableUser(target.id);
        expect(user).toMatchObject({ disabled: false, disabledAt: null });
        await target.client.login({ email: target.email, password: STRONG_PASSWORD });
        await refused(client.admin.enableUser(UNKNOWN_ID), 404, 'not_found');
      });

      it("sets a user's roles; your own are 403 cannot_change_own_roles", async () => {
        const { client, id } = await signedIn('admin-roles', ['admin']);
        const target = await signedIn('admin-roles-target');
        const role = `viewer-${randomUUID().slice(0, 6)}`;
        await client.admin.createRole({ name: role, permissions: [] });
        const user = await client.admin.setUserRoles(target.id, [role]);
        expect(user.roles).toEqual([role]);
        await refused(client.admin.setUserRoles(id, []), 403, 'cannot_change_own_roles');
      });

      it('deletes a user; deleting yourself is 409 cannot_change_self', async () => {
        const { client, id } = await signedIn('admin-delete', ['admin']);
        const target = await signedIn('admin-delete-target');
        await expect(client.admin.deleteUser(target.id)).resolves.toBeUndefined();
        await refused(client.admin.getUser(target.id), 404, 'not_found');
        await refused(client.admin.deleteUser(id), 409, 'cannot_change_self');
      });

      it('signs a user out everywhere; an unknown id is 404 not_found', async () => {
        const { client } = await signedIn('admin-revoke', ['admin']);
        const target = await signedIn('admin-revoke-target', [], 'token');
        await expect(client.admin.revokeUserSessions(target.id)).resolves.toBeUndefined();
        await refused(target.client.me(), 401, 'unauthenticated');
        await refused(client.admin.revokeUserSessions(UNKNOWN_ID), 404, 'not_found');
      });

      it('forces a password reset; a disabled account is 409 user_disabled', async () => {
        const { client } = await signedIn('admin-reset', ['admin']);
        const target = await signedIn('admin-reset-target');
        const { message } = await client.admin.resetUserPassword(target.id);
        expect(message).toEqual(expect.any(String));
        expect(await t.tokenFromLatestMail(target.email)).toEqual(expect.any(String));
        await refused(
          createClient({ baseUrl }).login({ email: target.email, password: STRONG_PASSWORD }),
          401,
          'invalid_credentials',
        );
        const disabled = await signedIn('admin-reset-disabled');
        await client.admin.disableUser(disabled.id);
        await refused(client.admin.resetUserPassword(disabled.id), 409, 'user_disabled');
      });
    });

    describe('admin: roles and the audit trail', () => {
      it('lists the roles and permissions; anonymous callers get 401 unauthenticated', async () => {
        const { client } = await signedIn('admin-list-roles', ['admin']);
        const { roles, permissions } = await client.admin.listRoles();
        expect(roles.find((r) => r.name === 'admin')).toMatchObject({ builtIn: true });
        expect(permissions.map((p) => p.name)).toContain('users:read');
        await refused(createClient({ baseUrl }).admin.listRoles(), 401, 'unauthenticated');
      });

      it('creates a role; a taken name is 409 role_exists', async () => {
        const { client } = await signedIn('admin-create-role', ['admin'], 'token');
        const name = `support-${randomUUID().slice(0, 6)}`;
        const role = await client.admin.createRole({
          name,
          description: 'Help desk',
          permissions: ['users:read', 'sessions:revoke'],
        });
        expect(role).toMatchObject({
          name,
          description: 'Help desk',
          permissions: ['sessions:revoke', 'users:read'],
          builtIn: false,
        });
        await refused(client.admin.createRole({ name, permissions: [] }), 409, 'role_exists');
      });

      it('searches the audit trail by user, types and time; a foreign cursor is 400 invalid_cursor', async () => {
        const { client } = await signedIn('admin-audit', ['admin']);
        const target = await signedIn('admin-audit-target');
        const since = new Date(Date.now() - 60_000);
        await client.admin.revokeUserSessions(target.id);
        const { events, nextCursor } = await client.admin.auditEvents({
          userId: target.id,
          type: ['admin.sessions_revoked', 'login.succeeded'],
          from: since,
          limit: 10,
        });
        expect(events.map((e) => e.type)).toEqual(['admin.sessions_revoked', 'login.succeeded']);
        expect(events[0]?.actorId).toEqual(expect.any(String));
        expect(nextCursor).toBeNull();
        const none = await client.admin.auditEvents({ userId: target.id, to: since.toISOString() });
        expect(none.events).toEqual([]);
        await refused(
          client.admin.auditEvents({ cursor: 'bm90LWEtY3Vyc29y' }),
          400,
          'invalid_cursor',
        );
      });
    });

    describe('admin: webhooks', () => {
      it('adds, lists, changes, tests, retries, rotates and removes an endpoint', async () => {
        const { client } = await signedIn('admin-hooks', ['admin']);
        const created = await client.admin.createWebhook({
          url: 'https://hooks.example.com/latchkey',
          events: ['user.created', 'user.deleted'],
          description: 'CRM',
        });
        expect(created.secret).toMatch(/^whsec_/);
        const listed = await client.admin.listWebhooks();
        expect(listed.find((w) => w.id === created.id)).toMatchObject({
          url: 'https://hooks.example.com/latchkey',
          enabled: true,
          disabledReason: null,
        });
        expect(listed.find((w) => w.id === created.id)).not.toHaveProperty('secret');
        const updated = await client.admin.updateWebhook(created.id, { events: ['user.deleted'] });
        expect(updated.events).toEqual(['user.deleted']);
        const { eventId } = await client.admin.testWebhook(created.id);
        const page = await client.admin.webhookDeliveries(created.id, { status: 'pending' });
        expect(page.deliveries).toEqual([
          expect.objectContaining({
            eventId,
            type: 'webhook.test',
            status: 'pending',
            attempts: 0,
          }),
        ]);
        const delivery = page.deliveries[0]?.id ?? '';
        expect(
          (await client.admin.retryWebhookDelivery(created.id, delivery)).message,
        ).toBeTruthy();
        const secret = await client.admin.rotateWebhookSecret(created.id);
        expect(secret).toMatch(/^whsec_/);
        expect(secret).not.toBe(created.secret);
        await client.admin.deleteWebhook(created.id);
        await refused(client.admin.deleteWebhook(created.id), 404, 'not_found');
      });

      it('refuses a private address (400 webhook_url_refused) and a user without webhooks:manage (403)', async () => {
        const { client } = await signedIn('admin-hooks-refused', ['admin']);
        await refused(
          client.admin.createWebhook({ url: 'http://127.0.0.1:8080/', events: ['user.created'] }),
          400,
          'webhook_url_refused',
        );
        const plain = await signedIn('hooks-plain');
        await refused(plain.client.admin.listWebhooks(), 403, 'forbidden');
      });
    });
  },
);
