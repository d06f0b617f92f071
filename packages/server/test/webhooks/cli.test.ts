import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandError } from '../../src/cli/admin.js';
import {
  webhookServiceFor,
  webhooksAddCommand,
  webhooksListCommand,
  webhooksRemoveCommand,
  webhooksRotateCommand,
  webhooksTestCommand,
} from '../../src/cli/webhooks.js';
import type { WebhookService } from '../../src/core/webhooks.js';
import { createTestApp, type TestApp, testConfig } from '../support/app.js';
import { backends } from '../support/db.js';
import { signedBy, WebhookReceiver } from '../support/webhook-receiver.js';

const ENV = { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' };

describe.each(backends)('the webhook commands on %s', (backend) => {
  let t: TestApp;
  let service: WebhookService;
  let lines: string[] = [];
  const out = { info: (l: string) => lines.push(l), error: (l: string) => lines.push(l) };
  const receiver = new WebhookReceiver();
  beforeAll(async () => {
    t = await createTestApp(backend, ENV);
    // The command's own service, with the key the server derives from the same secret.
    service = webhookServiceFor(testConfig(ENV), t.database.db, t.clock.now);
    await receiver.start();
  });
  afterAll(async () => {
    await t.close();
    await receiver.stop();
  });

  it('add prints the secret once, list shows the endpoint, test is delivered signed with it, rotate and remove', async () => {
    lines = [];
    await webhooksAddCommand(service, { url: receiver.url, events: ['user.created'] }, out);
    const id = /Added the webhook (\S+)/.exec(lines[0] ?? '')?.[1] ?? '';
    const secret = /(whsec_\S+)/.exec(lines[1] ?? '')?.[1] ?? '';
    expect(secret).toMatch(/^whsec_/);
    lines = [];
    await webhooksListCommand(service, out);
    expect(lines).toEqual([`${id}  ${receiver.url}  enabled  events: user.created`]);
    expect(lines.join('\n')).not.toContain(secret);

    lines = [];
    await webhooksTestCommand(service, id, out);
    expect(lines[0]).toMatch(/Queued a webhook.test event/);
    await t.webhookWorker.runOnce();
    const [test] = receiver.ofType('webhook.test');
    expect(test && signedBy(secret, test)).toBe(true);

    lines = [];
    await webhooksRotateCommand(service, id, out);
    const rotated = /(whsec_\S+)/.exec(lines[0] ?? '')?.[1];
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(secret);
    await webhooksRemoveCommand(service, id, out);
    lines = [];
    await webhooksListCommand(service, out);
    expect(lines).toEqual(['No webhooks.']);
    const audit = await t.database.db
      .selectFrom('audit_events')
      .select(['type', 'data'])
      .where('type', 'like', 'webhook.%')
      .execute();
    expect(audit.map((a) => a.type)).toEqual([
      'webhook.created',
      'webhook.tested',
      'webhook.secret_rotated',
      'webhook.deleted',
    ]);
    expect(audit.every((a) => a.data.via === 'cli')).toBe(true);
  });

  it('refuses bad input and unknown endpoints with a message (exit 1), not a crash', async () => {
    await expect(
      webhooksAddCommand(service, { url: 'ftp://x', events: ['user.created'] }, out),
    ).rejects.toThrow(/url: An http\(s\) URL/);
    await expect(
      webhooksAddCommand(service, { url: receiver.url, events: ['user.nope'] }, out),
    ).rejects.toBeInstanceOf(CommandError);
    for (const command of [webhooksRemoveCommand, webhooksRotateCommand, webhooksTestCommand]) {
      await expect(command(service, 'no-such-id', out)).rejects.toThrow(/no such webhook/);
    }
    const strict = webhookServiceFor(testConfig({}), t.database.db);
    await expect(
      webhooksAddCommand(strict, { url: 'http://127.0.0.1:9/', events: ['user.created'] }, out),
    ).rejects.toThrow(/WEBHOOK_ALLOW_PRIVATE_NETWORKS/);
  });
});
