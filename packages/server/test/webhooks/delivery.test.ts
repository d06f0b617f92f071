import { hostname } from 'node:os';
import { lookup } from 'node:dns/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isRefusedAddress } from '../../src/core/webhook-addresses.js';
import { ACCOUNT_TEST_ENV, verifiedUser } from '../support/account.js';
import { userWithRoles } from '../support/admin.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { backends } from '../support/db.js';
import { startInstances } from '../support/instances.js';
import { signedBy, WebhookReceiver } from '../support/webhook-receiver.js';

const ENV = {
  ...ACCOUNT_TEST_ENV,
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
  WEBHOOK_TIMEOUT: '1s',
};

type Admin = Awaited<ReturnType<typeof userWithRoles>>;

async function addEndpoint(t: TestApp, admin: Admin, url: string, events = ['user.created']) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/admin/webhooks',
    headers: admin.device.headers,
    payload: { url, events },
  });
  if (res.statusCode !== 201) throw new Error(`add: ${res.statusCode} ${res.body}`);
  return res.json() as { id: string; secret: string };
}

async function deliveriesOf(t: TestApp, admin: Admin, id: string) {
  const res = await t.app.inject({
    method: 'GET',
    url: `/admin/webhooks/${id}/deliveries`,
    headers: admin.device.headers,
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().deliveries as {
    id: string;
    eventId: string;
    type: string;
    status: string;
    attempts: number;
    lastStatusCode: number | null;
    lastError: string | null;
    nextAttemptAt: string;
  }[];
}

function first<T>(items: T[]): T {
  const [item] = items;
  if (item === undefined) throw new Error('nothing there');
  return item;
}

async function firstDelivery(t: TestApp, admin: Admin, id: string) {
  return first(await deliveriesOf(t, admin, id));
}

describe.each(backends)('webhook delivery on %s', (backend) => {
  let t: TestApp;
  let admin: Admin;
  const receiver = new WebhookReceiver();
  beforeAll(async () => {
    t = await createTestApp(backend, ENV);
    admin = await userWithRoles(t, 'admin', ['admin']);
    await receiver.start();
  });
  afterAll(async () => {
    await t.close();
    await receiver.stop();
  });
  afterEach(async () => {
    receiver.mode = { status: 204 };
    receiver.clear();
    // Each test starts with no endpoint of the ones before.
    for (const row of await t.database.db.selectFrom('webhook_endpoints').select('id').execute()) {
      await t.webhooks.remove({ id: null, via: 'cli' }, row.id, { ip: null, userAgent: null });
    }
    // Tests move the clock by days: a fresh admin session for the next.
    admin = await userWithRoles(t, 'admin', ['admin']);
  });

  const run = () => t.webhookWorker.runOnce();

  it('retries a receiver that refuses, answers 500 or hangs, with the same webhook-id, until it is back', async () => {
    const endpoint = await addEndpoint(t, admin, receiver.url);
    await verifiedUser(t, 'down');
    // Connection refused.
    await receiver.stop();
    expect(await run()).toBe(1);
    let delivery = await firstDelivery(t, admin, endpoint.id);
    expect(delivery).toMatchObject({ status: 'pending', attempts: 1, lastStatusCode: null });
    expect(delivery?.lastError).toMatch(/ECONNREFUSED/);
    // Growing delays: not due again at once.
    expect(await run()).toBe(0);
    const firstDelay = Date.parse(delivery.nextAttemptAt) - t.clock.now().getTime();
    expect(firstDelay).toBeGreaterThan(3_000);

    // 500, with a body read only up to a cap.
    await receiver.start();
    receiver.mode = { status: 500, body: 'x'.repeat(1_000_000) };
    t.clock.advance(60);
    expect(await run()).toBe(1);
    delivery = await firstDelivery(t, admin, endpoint.id);
    expect(delivery).toMatchObject({ status: 'pending', attempts: 2, lastStatusCode: 500 });
    expect(delivery?.lastError).toMatch(/^HTTP 500: x+$/);
    expect(String(delivery.lastError).length).toBeLessThan(300);
    const secondDelay = Date.parse(delivery.nextAttemptAt) - t.clock.now().getTime();
    expect(secondDelay).toBeGreaterThan(firstDelay);

    // A hang past WEBHOOK_TIMEOUT.
    receiver.mode = 'hang';
    t.clock.advance(600);
    const started = Date.now();
    expect(await run()).toBe(1);
    expect(Date.now() - started).toBeLessThan(5_000);
    delivery = await firstDelivery(t, admin, endpoint.id);
    expect(delivery).toMatchObject({ status: 'pending', attempts: 3 });
    expect(delivery?.lastError).toMatch(/No answer within 1 s/);

    // Back: delivered, and every attempt carried the same webhook-id.
    receiver.mode = { status: 200 };
    t.clock.advance(3600);
    expect(await run()).toBe(1);
    delivery = await firstDelivery(t, admin, endpoint.id);
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 4, lastStatusCode: 200 });
    const ids = receiver.received.map((r) => r.id);
    expect(ids).toHaveLength(3); // the refused attempt never arrived
    expect(new Set(ids)).toEqual(new Set([delivery.eventId]));
    for (const r of receiver.received) expect(signedBy(endpoint.secret, r)).toBe(true);
    // Delivered: never sent again.
    t.clock.advance(86_400);
    expect(await run()).toBe(0);
  });

  it('does not follow redirects', async () => {
    const endpoint = await addEndpoint(t, admin, receiver.url);
    receiver.mode = { status: 302, headers: { location: 'http://169.254.169.254/latest' } };
    await verifiedUser(t, 'redirect');
    await run();
    const delivery = await firstDelivery(t, admin, endpoint.id);
    expect(delivery).toMatchObject({ status: 'pending', lastStatusCode: 302 });
    expect(delivery?.lastError).toMatch(/redirects are not followed/);
    expect(receiver.received).toHaveLength(1);
  });

  it('marks a delivery failed once it has been retried for the retry period, and lets an admin retry it', async () => {
    const endpoint = await addEndpoint(t, admin, receiver.url);
    receiver.mode = { status: 503 };
    await verifiedUser(t, 'gives-up');
    let attempts = 0;
    for (let hours = 0; hours <= 25; hours += 2.5) {
      attempts += await run();
      t.clock.advance(2.5 * 3600);
    }
    const delivery = await firstDelivery(t, admin, endpoint.id);
    expect(delivery?.status).toBe('failed');
    expect(delivery?.attempts).toBe(attempts);
    expect(attempts).toBeGreaterThan(5);
    expect(await run()).toBe(0);

    const audit = await t.database.db
      .selectFrom('audit_events')
      .select('type')
      .where('type', '=', 'webhook.delivery_retried')
      .execute();
    receiver.mode = { status: 200 };
    const retried = await t.app.inject({
      method: 'POST',
      url: `/admin/webhooks/${endpoint.id}/deliveries/${delivery.id}/retry`,
      headers: admin.device.headers,
    });
    expect(retried.statusCode).toBe(202);
    expect(await run()).toBe(1);
    expect((await deliveriesOf(t, admin, endpoint.id))[0]?.status).toBe('delivered');
    const after = await t.database.db
      .selectFrom('audit_events')
      .select('type')
      .where('type', '=', 'webhook.delivery_retried')
      .execute();
    expect(after.length).toBe(audit.length + 1);
    const unknown = await t.app.inject({
      method: 'POST',
      url: `/admin/webhooks/${endpoint.id}/deliveries/00000000-0000-4000-8000-000000000000/retry`,
      headers: admin.device.headers,
    });
    expect(unknown.statusCode).toBe(404);
  });

  it('disables an endpoint that fails for days, with the reason shown to admins', async () => {
    const endpoint = await addEndpoint(t, admin, receiver.url);
    receiver.mode = { status: 410, body: 'gone' };
    for (let day = 0; day < 7; day++) {
      await verifiedUser(t, `day${day}`);
      for (let i = 0; i < 4; i++) {
        await run();
        t.clock.advance(6 * 3600);
      }
    }
    admin = await userWithRoles(t, 'admin', ['admin']); // the old session has expired
    const list = await t.app.inject({
      method: 'GET',
      url: '/admin/webhooks',
      headers: admin.device.headers,
    });
    const shown = list.json().webhooks.find((w: { id: string }) => w.id === endpoint.id);
    expect(shown.enabled).toBe(false);
    expect(shown.disabledReason).toMatch(
      /Every delivery failed for 5 days; the last error: HTTP 410: gone/,
    );
    const audit = await t.database.db
      .selectFrom('audit_events')
      .select('data')
      .where('type', '=', 'webhook.disabled')
      .execute();
    expect(audit.some((a) => a.data.webhookId === endpoint.id)).toBe(true);
    // Disabled: nothing is attempted, nothing new is queued for it.
    receiver.clear();
    await verifiedUser(t, 'after-disable');
    t.clock.advance(86_400);
    expect(await run()).toBe(0);
    expect(receiver.received).toEqual([]);
    // Enabled again: the reason is cleared and delivery resumes.
    receiver.mode = { status: 204 };
    const enabled = await t.app.inject({
      method: 'PATCH',
      url: `/admin/webhooks/${endpoint.id}`,
      headers: admin.device.headers,
      payload: { enabled: true },
    });
    expect(enabled.json()).toMatchObject({ enabled: true, disabledReason: null });
    expect(await run()).toBeGreaterThan(0);
    expect(receiver.received.length).toBeGreaterThan(0);
  });

  it('signs with both secrets for 24 hours after a rotation, then with the new one only', async () => {
    const endpoint = await addEndpoint(t, admin, receiver.url);
    const rotated = await t.app.inject({
      method: 'POST',
      url: `/admin/webhooks/${endpoint.id}/rotate-secret`,
      headers: admin.device.headers,
    });
    expect(rotated.statusCode).toBe(200);
    const { secret } = rotated.json() as { secret: string };
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(secret).not.toBe(endpoint.secret);
    await verifiedUser(t, 'overlap');
    await run();
    const during = first(receiver.received);
    expect(String(during?.headers['webhook-signature']).split(' ')).toHaveLength(2);
    // The clock has moved by days in this file: the library's signer, not its freshness check.
    expect(signedBy(secret, during)).toBe(true);
    expect(signedBy(endpoint.secret, during)).toBe(true);

    receiver.clear();
    t.clock.advance(24 * 3600 + 60);
    await verifiedUser(t, 'after-overlap');
    await run();
    const after = first(receiver.received);
    expect(String(after?.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(signedBy(secret, after)).toBe(true);
    expect(signedBy(endpoint.secret, after)).toBe(false);
  });

  it('purges delivered events past WEBHOOK_RETENTION and keeps those still pending', async () => {
    const endpoint = await addEndpoint(t, admin, receiver.url);
    await verifiedUser(t, 'kept-done');
    await run();
    receiver.mode = { status: 500 };
    await verifiedUser(t, 'kept-pending');
    await run();
    t.clock.advance(8 * 86_400);
    const purged = await t.retention.runOnce();
    expect(purged.webhookEvents).toBeGreaterThan(0);
    const left = await t.database.db
      .selectFrom('webhook_deliveries')
      .select('status')
      .where('endpoint_id', '=', endpoint.id)
      .execute();
    expect(left).toEqual([{ status: 'pending' }]);
  });

  it('keeps secrets sealed at rest and out of every listing', async () => {
    const endpoint = await addEndpoint(t, admin, receiver.url);
    const row = await t.database.db
      .selectFrom('webhook_endpoints')
      .selectAll()
      .where('id', '=', endpoint.id)
      .executeTakeFirstOrThrow();
    const stored = JSON.stringify(row);
    expect(stored).not.toContain(endpoint.secret.slice(6));
    const list = await t.app.inject({
      method: 'GET',
      url: '/admin/webhooks',
      headers: admin.device.headers,
    });
    expect(list.body).not.toContain(endpoint.secret.slice(6));
    expect(list.json().webhooks[0]).not.toHaveProperty('secret');
    const audit = await t.database.db.selectFrom('audit_events').select('data').execute();
    expect(JSON.stringify(audit)).not.toContain(endpoint.secret.slice(6));
  });
});

describe('refused addresses', () => {
  it('classifies loopback, private, link-local, metadata and reserved addresses', () => {
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.100.100.200',
      '0.0.0.0',
      '::1',
      '::',
      'fe80::1',
      'fd00:ec2::254',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '64:ff9b::a00:1',
      '224.0.0.1',
      '255.255.255.255',
    ]) {
      expect(isRefusedAddress(address), address).toBe(true);
    }
    for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
      expect(isRefusedAddress(address), address).toBe(false);
    }
  });

  describe.each(backends)('without WEBHOOK_ALLOW_PRIVATE_NETWORKS on %s', (backend) => {
    let t: TestApp;
    let admin: Admin;
    const receiver = new WebhookReceiver();
    beforeAll(async () => {
      t = await createTestApp(backend, { ...ACCOUNT_TEST_ENV });
      admin = await userWithRoles(t, 'admin', ['admin']);
      await receiver.start();
    });
    afterAll(async () => {
      await t.close();
      await receiver.stop();
    });

    it('refuses a literal private or loopback address when the endpoint is saved', async () => {
      for (const url of [
        receiver.url,
        'http://localhost:8080/',
        'http://[::1]/',
        'http://169.254.169.254/latest/meta-data',
        'http://10.0.0.5/hook',
        'http://[::ffff:127.0.0.1]/',
      ]) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/admin/webhooks',
          headers: admin.device.headers,
          payload: { url, events: ['user.created'] },
        });
        expect(res.statusCode, url).toBe(400);
        expect(res.json().code).toBe('webhook_url_refused');
      }
    });

    it('refuses at send time a name that resolves to a refused address, on the IP it resolved', async () => {
      const name = hostname();
      const resolved = await lookup(name, { all: true }).catch(() => []);
      // This machine's own name resolves to itself (loopback or a private address).
      expect(resolved.length).toBeGreaterThan(0);
      expect(resolved.every((a) => isRefusedAddress(a.address))).toBe(true);
      const endpoint = await addEndpoint(t, admin, `http://${name}:${receiver.port}/hooks`);
      await verifiedUser(t, 'rebind');
      expect(await t.webhookWorker.runOnce()).toBe(1);
      const delivery = await firstDelivery(t, admin, endpoint.id);
      expect(delivery?.status).toBe('pending');
      expect(delivery?.lastError).toMatch(
        /Refused: .* resolves to .*loopback, private or reserved/,
      );
      expect(receiver.received).toEqual([]);
    });
  });
});

describe.runIf(backends.includes('postgres'))('two instances on one PostgreSQL', () => {
  it('deliver each event once, even when their workers run at the same time', async () => {
    const receiver = await new WebhookReceiver().start();
    const { instances, close } = await startInstances(2, {
      env: { ...ENV } as never,
    });
    try {
      const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
      await a.webhooks.create(
        { id: null, via: 'cli' },
        { url: receiver.url, events: ['user.created'] },
        { ip: null, userAgent: null },
      );
      const now = new Date();
      for (let i = 0; i < 40; i++) {
        await a.database.db.transaction().execute(async (trx) => {
          const { emitWebhookEvent } = await import('../../src/core/webhooks.js');
          await emitWebhookEvent(trx, 'user.created', { data: { n: i } }, now);
        });
      }
      // Both claim at once, over and over, until nothing is left.
      for (;;) {
        const [x, y] = await Promise.all([a.webhookWorker.runOnce(), b.webhookWorker.runOnce()]);
        if (x + y === 0) break;
      }
      const ids = receiver.received.map((r) => r.id);
      expect(ids).toHaveLength(40);
      expect(new Set(ids).size).toBe(40);
    } finally {
      await close();
      await receiver.stop();
    }
  });
});

describe('a receiver that streams forever', () => {
  it('is cut off at the body cap instead of holding the worker', async () => {
    const server = createServer((_request, response) => {
      response.writeHead(500);
      const timer = setInterval(() => response.write('y'.repeat(1024)), 5);
      response.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { sendWebhook } = await import('../../src/jobs/webhook-sender.js');
    const port = (server.address() as AddressInfo).port;
    const started = Date.now();
    await expect(
      sendWebhook(`http://127.0.0.1:${port}/`, {}, '{}', {
        timeoutMs: 10_000,
        allowPrivateNetworks: true,
      }),
    ).rejects.toMatchObject({ statusCode: 500 });
    expect(Date.now() - started).toBeLessThan(2_000);
    server.closeAllConnections();
    server.close();
  });
});
