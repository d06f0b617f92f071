import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT_TEST_ENV, type Device, verifiedUser } from '../support/account.js';
import { userWithRoles } from '../support/admin.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const ZERO = '00000000-0000-4000-8000-000000000000';

describe.each(backends)('the webhook admin API on %s', (backend) => {
  let t: TestApp;
  let admin: Awaited<ReturnType<typeof userWithRoles>>;
  const receiver = new WebhookReceiver();
  beforeAll(async () => {
    t = await createTestApp(backend, {
      ...ACCOUNT_TEST_ENV,
      WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    });
    admin = await userWithRoles(t, 'admin', ['admin']);
    await receiver.start();
  });
  afterAll(async () => {
    await t.close();
    await receiver.stop();
  });

  const call = (
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    device?: Device,
    payload?: object,
  ) =>
    t.app.inject({
      method,
      url,
      headers: device ? device.headers : {},
      ...(payload ? { payload } : {}),
    });

  it('needs webhooks:manage on every route: 401 anonymous, 403 without it, a custom role with it passes', async () => {
    const plain = await userWithRoles(t, 'plain', []);
    const role = await call('POST', '/admin/roles', admin.device, {
      name: 'integrations',
      permissions: ['webhooks:manage'],
    });
    expect(role.statusCode).toBe(201);
    const integrator = await userWithRoles(t, 'integrator', ['integrations']);
    const created = await call('POST', '/admin/webhooks', integrator.device, {
      url: receiver.url,
      events: ['user.created'],
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id as string;
    const routes: [Parameters<typeof call>[0], string, object | undefined][] = [
      ['GET', '/admin/webhooks', undefined],
      ['POST', '/admin/webhooks', { url: receiver.url, events: ['user.created'] }],
      ['PATCH', `/admin/webhooks/${id}`, { description: 'x' }],
      ['POST', `/admin/webhooks/${id}/rotate-secret`, undefined],
      ['POST', `/admin/webhooks/${id}/test`, undefined],
      ['GET', `/admin/webhooks/${id}/deliveries`, undefined],
      ['POST', `/admin/webhooks/${id}/deliveries/${ZERO}/retry`, undefined],
      ['DELETE', `/admin/webhooks/${id}`, undefined],
    ];
    for (const [method, url, body] of routes) {
      expect((await call(method, url, undefined, body)).statusCode, `${method} ${url}`).toBe(401);
      const forbidden = await call(method, url, plain.device, body);
      expect(forbidden.statusCode, `${method} ${url}`).toBe(403);
      expect(forbidden.json().code).toBe('forbidden');
    }
  });

  it('creates, lists, changes, tests and removes an endpoint, each change audited', async () => {
    const created = await call('POST', '/admin/webhooks', admin.device, {
      url: receiver.url,
      events: ['user.created', 'user.deleted'],
      description: 'CRM sync',
    });
    expect(created.statusCode).toBe(201);
    const body = created.json();
    expect(body).toEqual({
      id: expect.any(String),
      url: receiver.url,
      events: ['user.created', 'user.deleted'],
      description: 'CRM sync',
      enabled: true,
      disabledReason: null,
      failingSince: null,
      createdAt: expect.any(String),
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]+=*$/),
    });
    const list = await call('GET', '/admin/webhooks', admin.device);
    expect(list.json().webhooks.find((w: { id: string }) => w.id === body.id)).toEqual({
      ...body,
      secret: undefined,
    });
    const patched = await call('PATCH', `/admin/webhooks/${body.id}`, admin.device, {
      events: ['user.deleted'],
      description: 'only deletions',
    });
    expect(patched.json()).toMatchObject({
      events: ['user.deleted'],
      description: 'only deletions',
    });
    const test = await call('POST', `/admin/webhooks/${body.id}/test`, admin.device);
    expect(test.statusCode).toBe(202);
    await t.webhookWorker.runOnce();
    const delivered = receiver.ofType('webhook.test');
    expect(delivered.map((r) => r.id)).toEqual([test.json().eventId]);
    const deliveries = await call('GET', `/admin/webhooks/${body.id}/deliveries`, admin.device);
    expect(deliveries.json().deliveries[0]).toMatchObject({
      eventId: test.json().eventId,
      type: 'webhook.test',
      status: 'delivered',
      attempts: 1,
      lastStatusCode: 204,
      lastError: null,
    });
    await call('POST', `/admin/webhooks/${body.id}/rotate-secret`, admin.device);
    expect((await call('DELETE', `/admin/webhooks/${body.id}`, admin.device)).statusCode).toBe(204);
    expect((await call('DELETE', `/admin/webhooks/${body.id}`, admin.device)).statusCode).toBe(404);

    const audit = await t.database.db
      .selectFrom('audit_events')
      .select(['type', 'actor_id', 'data'])
      .where('type', 'like', 'webhook.%')
      .execute();
    const mine = audit.filter((a) => a.data.webhookId === body.id);
    expect(mine.map((a) => a.type)).toEqual([
      'webhook.created',
      'webhook.updated',
      'webhook.tested',
      'webhook.secret_rotated',
      'webhook.deleted',
    ]);
    expect(mine.every((a) => a.actor_id === admin.id)).toBe(true);
  });

  it('refuses bad input with 400 and unknown ids with 404, never a 500', async () => {
    const bad: object[] = [
      { url: 'ftp://example.com/', events: ['user.created'] },
      { url: 'not a url', events: ['user.created'] },
      { url: receiver.url, events: [] },
      { url: receiver.url, events: ['user.exploded'] },
      { url: receiver.url, events: ['user.created', 'user.created'] },
      { url: receiver.url, events: ['user.created'], secret: 'whsec_mine' },
      { url: `${receiver.url}/${'a'.repeat(3000)}`, events: ['user.created'] },
    ];
    for (const payload of bad) {
      const res = await call('POST', '/admin/webhooks', admin.device, payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
    }
    for (const id of [ZERO, 'not-a-uuid']) {
      expect(
        (await call('PATCH', `/admin/webhooks/${id}`, admin.device, { enabled: false })).statusCode,
      ).toBe(404);
      expect((await call('GET', `/admin/webhooks/${id}/deliveries`, admin.device)).statusCode).toBe(
        404,
      );
      expect((await call('POST', `/admin/webhooks/${id}/test`, admin.device)).statusCode).toBe(404);
    }
    const created = await call('POST', '/admin/webhooks', admin.device, {
      url: receiver.url,
      events: ['user.created'],
    });
    const id = created.json().id;
    expect(
      (await call('PATCH', `/admin/webhooks/${id}`, admin.device, { enabled: false })).statusCode,
    ).toBe(200);
    const test = await call('POST', `/admin/webhooks/${id}/test`, admin.device);
    expect(test.statusCode).toBe(409);
    expect(test.json().code).toBe('webhook_disabled');
    expect(
      (await call('GET', `/admin/webhooks/${id}/deliveries?cursor=@@`, admin.device)).statusCode,
    ).toBe(400);
  });

  it('counts deliveries by outcome and shows the backlog in /metrics', async () => {
    const created = await call('POST', '/admin/webhooks', admin.device, {
      url: receiver.url,
      events: ['user.created'],
    });
    expect(created.statusCode).toBe(201);
    receiver.mode = { status: 500 };
    await verifiedUser(t, 'metrics');
    await t.webhookWorker.runOnce();
    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/latchkey_webhook_deliveries_total\{outcome="retrying"\} [1-9]/);
    expect(metrics).toMatch(/latchkey_webhook_deliveries_total\{outcome="delivered"\} [1-9]/);
    expect(metrics).toMatch(/latchkey_webhook_backlog [1-9]/);
    expect(metrics).toMatch(/latchkey_webhook_oldest_pending_seconds \d/);
    receiver.mode = { status: 204 };
  });
});
