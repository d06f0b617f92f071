import { WEBHOOK_EVENT_TYPES } from '@latchkey/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emitWebhookEvent } from '../../src/core/webhooks.js';
import { uuidv7 } from '../../src/store/ids.js';
import {
  ACCOUNT_TEST_ENV,
  changePassword,
  forgotPassword,
  login,
  OTHER_PASSWORD,
  resetPassword,
  THIRD_PASSWORD,
  tokenPair,
  verifiedUser,
} from '../support/account.js';
import { userWithRoles } from '../support/admin.js';
import { createTestApp, STRONG_PASSWORD, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';
import { enrolTotp } from '../support/mfa.js';
import { verifiesWith, WebhookReceiver } from '../support/webhook-receiver.js';

const ENV = { ...ACCOUNT_TEST_ENV, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' };
// mfa.* have their own test below, which the quiet endpoint then hears too.
const EMITTED = WEBHOOK_EVENT_TYPES.filter((t) => !t.startsWith('mfa.'));

describe.each(backends)('webhook events on %s', (backend) => {
  let t: TestApp;
  let admin: Awaited<ReturnType<typeof userWithRoles>>;
  const all = new WebhookReceiver();
  const other = new WebhookReceiver();
  let allSecret = '';
  let allId = '';
  beforeAll(async () => {
    t = await createTestApp(backend, ENV);
    admin = await userWithRoles(t, 'admin', ['admin']);
    await all.start();
    await other.start();
    const created = await t.app.inject({
      method: 'POST',
      url: '/admin/webhooks',
      headers: admin.device.headers,
      payload: { url: all.url, events: [...WEBHOOK_EVENT_TYPES], description: 'everything' },
    });
    expect(created.statusCode, created.body).toBe(201);
    allSecret = created.json().secret;
    allId = created.json().id;
    // Asks only for mfa.*, which the first test never causes: it must get nothing there.
    const quiet = await t.app.inject({
      method: 'POST',
      url: '/admin/webhooks',
      headers: admin.device.headers,
      payload: { url: other.url, events: ['mfa.enabled', 'mfa.disabled'] },
    });
    expect(quiet.statusCode).toBe(201);
  });
  afterAll(async () => {
    await t.close();
    await all.stop();
    await other.stop();
  });

  const deliverAll = async () => {
    await t.account.settled();
    while ((await t.webhookWorker.runOnce()) > 0);
  };

  it('delivers every event type once per matching endpoint, signed for standardwebhooks, with no secret in it', async () => {
    const { email, id } = await verifiedUser(t, 'events'); // user.created, user.verified
    const device = await login(t, email); // session.created
    const second = await login(t, email);
    // password.changed, and session.revoked for the second device
    expect((await changePassword(t, device, STRONG_PASSWORD, OTHER_PASSWORD)).statusCode).toBe(204);
    // password.reset (and the remaining sessions revoked)
    await forgotPassword(t, email);
    await t.account.settled();
    const resetToken = await t.tokenFromLatestMail(email);
    expect((await resetPassword(t, resetToken, THIRD_PASSWORD)).statusCode).toBe(204);
    // email.changed (+ user.updated)
    const again = await login(t, email, THIRD_PASSWORD);
    const newEmail = `changed-${email}`;
    const change = await t.app.inject({
      method: 'POST',
      url: '/auth/change-email',
      headers: again.headers,
      payload: { newEmail, password: THIRD_PASSWORD },
    });
    expect(change.statusCode).toBe(202);
    const changeToken = await t.tokenFromLatestMail(newEmail);
    const confirmed = await t.app.inject({
      method: 'POST',
      url: '/auth/verify-email',
      payload: { token: changeToken },
    });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    // refresh_token.reused
    const pair = await tokenPair(t, newEmail, THIRD_PASSWORD);
    const refresh = (refreshToken: string) =>
      t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } });
    expect((await refresh(pair.refreshToken)).statusCode).toBe(200);
    t.clock.advance(60); // past the reuse grace
    expect((await refresh(pair.refreshToken)).statusCode).toBe(401);
    // user.updated by an admin (roles, disabled), then user.deleted
    const patched = await t.app.inject({
      method: 'PATCH',
      url: `/admin/users/${id}`,
      headers: admin.device.headers,
      payload: { disabled: true },
    });
    expect(patched.statusCode).toBe(200);
    const removed = await t.app.inject({
      method: 'DELETE',
      url: `/admin/users/${id}`,
      headers: admin.device.headers,
    });
    expect(removed.statusCode).toBe(204);
    const test = await t.app.inject({
      method: 'POST',
      url: `/admin/webhooks/${allId}/test`,
      headers: admin.device.headers,
    });
    expect(test.statusCode).toBe(202);
    expect(second.cookie).not.toBe(device.cookie);

    await deliverAll();
    const mine = all.received.filter(
      (r) => (r.data.user as { id?: string } | undefined)?.id === id || r.type === 'webhook.test',
    );
    for (const type of EMITTED) {
      expect(mine.filter((r) => r.type === type).length, type).toBeGreaterThan(0);
    }
    // Once each: no webhook-id twice.
    const ids = all.received.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of all.received) {
      expect(verifiesWith(allSecret, r), r.type).toBe(true);
      expect(r.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      expect(JSON.parse(r.body)).toEqual({
        type: r.type,
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        data: expect.any(Object),
      });
    }
    expect(other.received).toEqual([]);

    const created = mine.find((r) => r.type === 'user.created');
    expect(created?.data.user).toEqual({
      id,
      email,
      name: null,
      emailVerified: false,
      roles: [],
      createdAt: expect.any(String),
    });
    expect(mine.find((r) => r.type === 'user.verified')?.data.user).toMatchObject({
      emailVerified: true,
    });
    expect(mine.find((r) => r.type === 'email.changed')?.data).toMatchObject({
      user: { email: newEmail },
      previousEmail: email,
    });
    const disabled = mine.find((r) => r.type === 'user.updated' && r.data.changed === 'disabled');
    expect(disabled?.data.disabled).toBe(true);
    const revoked = mine.filter((r) => r.type === 'session.revoked');
    expect(revoked.map((r) => r.data.reason)).toEqual(
      expect.arrayContaining(['password_changed', 'password_reset', 'refresh_token_reuse']),
    );
    expect(mine.find((r) => r.type === 'refresh_token.reused')?.data).toMatchObject({
      sessionId: expect.any(String),
      familyId: expect.any(String),
    });
    expect(mine.find((r) => r.type === 'webhook.test')?.data).toEqual({ webhookId: allId });

    // Never a secret: no password (hash), token, cookie or CSRF token in any body.
    const bodies = all.received.map((r) => r.body).join('\n');
    for (const secret of [
      STRONG_PASSWORD,
      OTHER_PASSWORD,
      THIRD_PASSWORD,
      resetToken,
      changeToken,
    ]) {
      expect(bodies).not.toContain(secret);
    }
    expect(bodies).not.toContain(pair.refreshToken);
    expect(bodies).not.toContain(device.csrfToken);
    expect(bodies).not.toMatch(/\$argon2|password_?hash|token_hash|csrf/i);
  });

  it('reports a second factor added, removed by its owner and removed by an admin', async () => {
    const { email, id } = await verifiedUser(t, 'factors');
    const device = await login(t, email);
    await enrolTotp(t, device); // mfa.enabled
    const removed = await t.app.inject({
      method: 'DELETE',
      url: '/auth/mfa/totp',
      headers: device.headers,
    });
    expect(removed.statusCode, removed.body).toBe(204); // mfa.disabled
    await enrolTotp(t, device); // mfa.enabled again
    const byAdmin = await t.app.inject({
      method: 'DELETE',
      url: `/admin/users/${id}/mfa`,
      headers: admin.device.headers,
    });
    expect(byAdmin.statusCode, byAdmin.body).toBe(204); // mfa.disabled, by an admin

    await deliverAll();
    for (const receiver of [all, other]) {
      const seen = receiver.received
        .filter((r) => r.type.startsWith('mfa.') && (r.data.user as { id: string }).id === id)
        .map((r) => [r.type, r.data.method, r.data.byAdmin ?? false]);
      expect(seen).toEqual([
        ['mfa.enabled', 'totp', false],
        ['mfa.disabled', 'totp', false],
        ['mfa.enabled', 'totp', false],
        ['mfa.disabled', 'all', true],
      ]);
    }
  });

  it('writes nothing for a change that rolls back', async () => {
    const before = await t.database.db
      .selectFrom('webhook_events')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    const now = t.clock.now();
    await expect(
      t.database.db.transaction().execute(async (trx) => {
        const id = uuidv7(now.getTime());
        await trx
          .insertInto('users')
          .values({
            id,
            email: `rolled-${id}@example.com`,
            name: null,
            password_hash: null,
            email_verified_at: null,
            disabled_at: null,
            password_changed_at: now,
            created_at: now,
            updated_at: now,
          })
          .execute();
        expect(await emitWebhookEvent(trx, 'user.created', { userId: id }, now)).toBeTypeOf(
          'string',
        );
        throw new Error('the change fails after its event was written');
      }),
    ).rejects.toThrow('the change fails');
    const after = await t.database.db
      .selectFrom('webhook_events')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
    all.clear();
    await deliverAll();
    expect(all.received.map((r) => [r.type, r.data])).toEqual([]);

    // A sign-up refused inside its transaction (the address is taken) sends nothing either.
    const { email } = await verifiedUser(t, 'taken');
    await deliverAll();
    all.clear();
    const dup = await t.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email: email.toUpperCase(), password: STRONG_PASSWORD },
    });
    expect(dup.statusCode).toBe(202);
    await deliverAll();
    expect(all.ofType('user.created')).toEqual([]);
  });

  it('writes no event when no enabled endpoint asked for the type', async () => {
    const disable = await t.app.inject({
      method: 'PATCH',
      url: `/admin/webhooks/${allId}`,
      headers: admin.device.headers,
      payload: { enabled: false },
    });
    expect(disable.json().enabled).toBe(false);
    const before = await t.database.db.selectFrom('webhook_events').select('id').execute();
    await verifiedUser(t, 'unheard');
    const after = await t.database.db.selectFrom('webhook_events').select('id').execute();
    expect(after.length).toBe(before.length);
    await t.app.inject({
      method: 'PATCH',
      url: `/admin/webhooks/${allId}`,
      headers: admin.device.headers,
      payload: { enabled: true },
    });
  });
});
