import type { Command } from 'commander';
import type { Kysely } from 'kysely';
import { createWebhookBody } from '@latchkey/contract';
import type { Config } from '../config/config.js';
import { resolveKeyEncryptionSecret } from '../config/key-file.js';
import type { Actor } from '../core/admin.js';
import type { Clock } from '../core/clock.js';
import { AuthError } from '../core/errors.js';
import { deriveEncryptionKeys } from '../core/keys.js';
import { WebhookService } from '../core/webhooks.js';
import { openDatabase } from '../store/database.js';
import { migrate } from '../store/migrate.js';
import type { Database } from '../store/schema.js';
import { CommandError, type CommandOutput } from './admin.js';

/**
 * `latchkey webhooks add|list|remove|rotate-secret|test`. Like the user commands, the command
 * functions take a WebhookService and an output so that tests run them in-process.
 */

const CLI: Actor = { id: null, via: 'cli' };
const NO_REQUEST = { ip: null, userAgent: null };

export function webhookServiceFor(config: Config, db: Kysely<Database>, clock?: Clock) {
  return new WebhookService({
    db,
    clock: clock ?? (() => new Date()),
    secretKey: deriveEncryptionKeys(resolveKeyEncryptionSecret(config).secret).webhookSecrets,
    allowPrivateNetworks: config.webhooks.allowPrivateNetworks,
  });
}

async function refusals<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof AuthError) throw new CommandError(error.message);
    throw error;
  }
}

export async function webhooksAddCommand(
  webhooks: WebhookService,
  input: { url: string; events: string[]; description?: string | undefined },
  out: CommandOutput,
): Promise<void> {
  const parsed = createWebhookBody.safeParse(input);
  if (!parsed.success) {
    const reasons = parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`);
    throw new CommandError(reasons.join('; '));
  }
  const created = await refusals(() => webhooks.create(CLI, parsed.data, NO_REQUEST));
  out.info(`Added the webhook ${created.id} for ${created.events.join(',')} to ${created.url}`);
  out.info(`Signing secret (shown only now): ${created.secret}`);
}

export async function webhooksListCommand(webhooks: WebhookService, out: CommandOutput) {
  const list = await webhooks.list();
  if (list.length === 0) out.info('No webhooks.');
  for (const w of list) {
    const state = w.enabled
      ? 'enabled'
      : `DISABLED${w.disabledReason ? ` (${w.disabledReason})` : ''}`;
    const failing = w.failingSince ? `  failing since ${w.failingSince}` : '';
    out.info(`${w.id}  ${w.url}  ${state}  events: ${w.events.join(',')}${failing}`);
  }
}

export async function webhooksRemoveCommand(
  webhooks: WebhookService,
  id: string,
  out: CommandOutput,
) {
  await refusals(() => webhooks.remove(CLI, id, NO_REQUEST));
  out.info(`Removed the webhook ${id} and its deliveries.`);
}

export async function webhooksRotateCommand(
  webhooks: WebhookService,
  id: string,
  out: CommandOutput,
) {
  const { secret } = await refusals(() => webhooks.rotateSecret(CLI, id, NO_REQUEST));
  out.info(`New signing secret (shown only now): ${secret}`);
  out.info('The previous secret also signs for 24 hours: update the receiver within that time.');
}

export async function webhooksTestCommand(
  webhooks: WebhookService,
  id: string,
  out: CommandOutput,
) {
  const { eventId } = await refusals(() => webhooks.test(CLI, id, NO_REQUEST));
  out.info(`Queued a webhook.test event (webhook-id ${eventId}); a running Latchkey delivers it.`);
}

const console_: CommandOutput = {
  info: (line) => console.log(line),
  error: (line) => console.error(line),
};

/** Adds `latchkey webhooks …`; `config` and `fail` are main.ts's. */
export function registerWebhookCommands(
  program: Command,
  helpers: { config: () => Config; fail: (error: unknown) => never },
): void {
  const withWebhooks = async (work: (webhooks: WebhookService) => Promise<void>) => {
    try {
      const config = helpers.config();
      const handle = await openDatabase(config);
      try {
        await migrate(handle.db);
        await work(webhookServiceFor(config, handle.db));
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (error instanceof CommandError) {
        console.error(`latchkey: ${error.message}`);
        process.exit(1);
      }
      helpers.fail(error);
    }
  };
  const webhooks = program
    .command('webhooks')
    .description('signed events to your app (see docs/webhooks.md)');
  webhooks
    .command('add')
    .description('add an endpoint; prints its signing secret once')
    .requiredOption('--url <url>', 'where events are POSTed (http or https)')
    .requiredOption('--events <types>', 'comma list of event types, e.g. user.created,user.deleted')
    .option('--description <text>', 'what it is for')
    .action((options: { url: string; events: string; description?: string }) =>
      withWebhooks((service) =>
        webhooksAddCommand(
          service,
          {
            url: options.url,
            events: options.events
              .split(',')
              .map((e) => e.trim())
              .filter(Boolean),
            description: options.description,
          },
          console_,
        ),
      ),
    );
  webhooks
    .command('list')
    .description('list the endpoints, with why one was disabled')
    .action(() => withWebhooks((service) => webhooksListCommand(service, console_)));
  webhooks
    .command('remove')
    .argument('<id>', 'the endpoint')
    .description('remove an endpoint and its deliveries')
    .action((id: string) =>
      withWebhooks((service) => webhooksRemoveCommand(service, id, console_)),
    );
  webhooks
    .command('rotate-secret')
    .argument('<id>', 'the endpoint')
    .description('a new signing secret; the old one also signs for 24 hours')
    .action((id: string) =>
      withWebhooks((service) => webhooksRotateCommand(service, id, console_)),
    );
  webhooks
    .command('test')
    .argument('<id>', 'the endpoint')
    .description('queue a webhook.test event for the endpoint')
    .action((id: string) => withWebhooks((service) => webhooksTestCommand(service, id, console_)));
}
