import { createHmac, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { WebhookEventType } from '@latchkey/contract';
import { recordAuditEvent } from '../store/audit.js';
import { uuidv7 } from '../store/ids.js';
import type { Database, Queryable, WebhookDeliveryStatus } from '../store/schema.js';
import { findUserById } from '../store/users.js';
import {
  insertWebhookDeliveries,
  listDeliveries,
  retryDelivery,
} from '../store/webhook-deliveries.js';
import {
  deleteWebhookEndpoint,
  findWebhookEndpoint,
  insertWebhookEndpoint,
  listWebhookEndpoints,
  subscribedEndpointIds,
  updateWebhookEndpoint,
  type WebhookEndpointRow,
} from '../store/webhook-endpoints.js';
import { insertWebhookEvent, type NewWebhookEvent } from '../store/webhook-events.js';
import type { Actor } from './admin.js';
import { decodeCursor, page } from './admin-views.js';
import type { Clock } from './clock.js';
import { AuthError } from './errors.js';
import { seal, unseal } from './keys.js';
import { type PublicUser, type RequestContext, toPublicUser } from './request.js';
import { refusedUrlReason } from './webhook-addresses.js';

/**
 * Webhooks, the Standard Webhooks way: an event is a row written in the transaction of the
 * change it reports, with one delivery row per endpoint that asked for its type; the webhook
 * worker (src/jobs/webhook-worker.ts) sends them signed with the endpoint's secret.
 */

const SECRET_PREFIX = 'whsec_';
/** How long the secret before a rotation keeps signing, so receivers can switch over. */
export const PREVIOUS_SECRET_SECONDS = 24 * 3600;

/** A new signing secret: `whsec_` + base64 of 32 random bytes (Standard Webhooks' format). */
export function generateWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

/**
 * `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed with the secret's decoded bytes
 * (the part after `whsec_`, base64).
 */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(
    secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret,
    'base64',
  );
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/**
 * The three Standard Webhooks headers of one attempt. With several secrets (during a rotation)
 * the signature header lists one signature per secret, space-separated; a receiver accepts the
 * message when any of them matches its secret.
 */
export function webhookHeaders(
  secrets: string[],
  id: string,
  timestamp: number,
  body: string,
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => signWebhook(s, id, timestamp, body)).join(' '),
  };
}

/** The secrets that sign for an endpoint at `now`: the current one, and the previous while it lasts. */
export function signingSecrets(
  key: Buffer,
  endpoint: {
    id: string;
    secretEncrypted: string;
    previousSecretEncrypted: string | null;
    previousSecretExpiresAt: Date | null;
  },
  now: Date,
): string[] {
  const secrets = [unseal(key, endpoint.secretEncrypted, endpoint.id)];
  if (
    endpoint.previousSecretEncrypted &&
    endpoint.previousSecretExpiresAt &&
    endpoint.previousSecretExpiresAt > now
  ) {
    secrets.push(unseal(key, endpoint.previousSecretEncrypted, `${endpoint.id}.previous`));
  }
  return secrets;
}

/** What an event reports: the user it is about (read in the same transaction) and more ids. */
export interface WebhookSubject {
  /** The user the event is about; read inside the transaction, so call before deleting them. */
  userId?: string;
  /** Or the user as already read by the caller. */
  user?: PublicUser;
  /** Further ids (`sessionId`, …); never a secret, a token or a hash. */
  data?: Record<string, string | number | boolean | null>;
}

/**
 * Writes an event for every enabled endpoint that asked for `type`, inside `db` (the transaction
 * of the change, so a rolled-back change sends nothing and a committed one loses nothing).
 * Nothing is written when no endpoint wants it. Returns the event id, if written.
 */
export async function emitWebhookEvent(
  db: Queryable,
  type: WebhookEventType,
  subject: WebhookSubject,
  now: Date,
): Promise<string | undefined> {
  const endpointIds = await subscribedEndpointIds(db, type);
  if (endpointIds.length === 0) return undefined;
  return writeEvent(db, type, subject, endpointIds, now);
}

/**
 * Runs `change` and writes its event in one transaction. Outside a transaction, when no endpoint
 * wants `type`, `change` runs alone: a sign-in keeps its single statement.
 */
export async function withWebhookEvent(
  db: Queryable,
  type: WebhookEventType,
  subject: WebhookSubject,
  now: Date,
  change: (db: Queryable) => Promise<void>,
): Promise<void> {
  if (db.isTransaction) {
    await change(db);
    await emitWebhookEvent(db, type, subject, now);
    return;
  }
  const endpointIds = await subscribedEndpointIds(db, type);
  if (endpointIds.length === 0) {
    await change(db);
    return;
  }
  await db.transaction().execute(async (trx) => {
    await change(trx);
    await writeEvent(trx, type, subject, endpointIds, now);
  });
}

/**
 * One `session.revoked` event per session (`data.sessionId`, `data.reason`): the user is read
 * once for them all.
 */
export async function emitSessionsRevoked(
  db: Queryable,
  userId: string,
  sessionIds: string[],
  reason: string,
  now: Date,
): Promise<void> {
  if (sessionIds.length === 0) return;
  const endpointIds = await subscribedEndpointIds(db, 'session.revoked');
  if (endpointIds.length === 0) return;
  const row = await findUserById(db, userId);
  const subject = row ? { user: toPublicUser(row) } : {};
  for (const sessionId of sessionIds) {
    await writeEvent(
      db,
      'session.revoked',
      { ...subject, data: { userId, sessionId, reason } },
      endpointIds,
      now,
    );
  }
}

async function writeEvent(
  db: Queryable,
  type: WebhookEventType,
  subject: WebhookSubject,
  endpointIds: string[],
  now: Date,
): Promise<string> {
  let user = subject.user;
  if (!user && subject.userId) {
    const row = await findUserById(db, subject.userId);
    if (row) user = toPublicUser(row);
  }
  const event = webhookEvent(type, { ...subject, ...(user ? { user } : {}) }, now);
  await insertWebhookEvent(db, event);
  await insertWebhookDeliveries(db, event.id, endpointIds, now);
  return event.id;
}

/**
 * The event row of `type` about `subject` (its user as given, never read), for a statement
 * that writes it only if some endpoint asked for it (store's `withSubscribedWebhookEvent`).
 */
export function webhookEvent(
  type: WebhookEventType,
  subject: Omit<WebhookSubject, 'userId'>,
  now: Date,
): NewWebhookEvent {
  const { user } = subject;
  const data = { ...(user ? { user } : {}), ...subject.data };
  const body = JSON.stringify({ type, timestamp: now.toISOString(), data });
  return { id: uuidv7(now.getTime()), type, body, createdAt: now };
}

/** What the admin API shows of an endpoint (never its secret). */
export interface WebhookEndpointView {
  id: string;
  url: string;
  events: string[];
  description: string;
  enabled: boolean;
  disabledReason: string | null;
  failingSince: string | null;
  createdAt: string;
}

export function toWebhookEndpointView(row: WebhookEndpointRow): WebhookEndpointView {
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    description: row.description,
    enabled: row.enabled,
    disabledReason: row.disabled_reason,
    failingSince: row.failing_since?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
  };
}

export interface WebhookDeliveryView {
  id: string;
  eventId: string;
  type: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: string;
  createdAt: string;
}

/** A URL with any `user:password@` masked, for audit rows and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@?#]*@/i, '$1***@');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const endpointNotFound = () => new AuthError('not_found', 404, 'There is no such webhook.');

export interface WebhookServiceOptions {
  db: Kysely<Database>;
  clock: Clock;
  /** The key sealing the secrets (deriveEncryptionKeys().webhookSecrets). */
  secretKey: Buffer;
  /** WEBHOOK_ALLOW_PRIVATE_NETWORKS */
  allowPrivateNetworks: boolean;
  /** Called after a commit that queued deliveries (wakes the worker). */
  onQueued?: () => void;
}

export interface NewWebhookEndpoint {
  url: string;
  events: WebhookEventType[];
  description?: string | undefined;
}

export interface WebhookEndpointChanges {
  url?: string | undefined;
  events?: WebhookEventType[] | undefined;
  description?: string | undefined;
  enabled?: boolean | undefined;
}

/**
 * Webhook endpoints for the admin API and the CLI. Every change is an audit row naming the
 * acting admin; secrets are sealed with a key derived from the key-encryption secret and shown
 * only when created or rotated.
 */
export class WebhookService {
  constructor(private readonly o: WebhookServiceOptions) {}

  async list(): Promise<WebhookEndpointView[]> {
    return (await listWebhookEndpoints(this.o.db)).map(toWebhookEndpointView);
  }

  async get(id: string): Promise<WebhookEndpointView> {
    return toWebhookEndpointView(await this.find(this.o.db, id));
  }

  async create(
    actor: Actor,
    input: NewWebhookEndpoint,
    ctx: RequestContext,
  ): Promise<WebhookEndpointView & { secret: string }> {
    this.checkUrl(input.url);
    const now = this.o.clock();
    const id = uuidv7(now.getTime());
    const secret = generateWebhookSecret();
    const row = await this.o.db.transaction().execute(async (trx) => {
      const created = await insertWebhookEndpoint(trx, {
        id,
        url: input.url,
        events: [...input.events],
        description: input.description ?? '',
        secret_encrypted: seal(this.o.secretKey, secret, id),
        previous_secret_encrypted: null,
        previous_secret_expires_at: null,
        enabled: true,
        disabled_reason: null,
        failing_since: null,
        created_at: now,
        updated_at: now,
      });
      await this.audit(trx, 'webhook.created', actor, ctx, now, {
        webhookId: id,
        url: redactUrl(input.url),
        events: input.events,
      });
      return created;
    });
    return { ...toWebhookEndpointView(row), secret };
  }

  async update(
    actor: Actor,
    id: string,
    changes: WebhookEndpointChanges,
    ctx: RequestContext,
  ): Promise<WebhookEndpointView> {
    if (changes.url !== undefined) this.checkUrl(changes.url);
    const now = this.o.clock();
    const row = await this.o.db.transaction().execute(async (trx) => {
      const before = await this.find(trx, id);
      const updated = await updateWebhookEndpoint(trx, before.id, {
        ...(changes.url !== undefined ? { url: changes.url } : {}),
        ...(changes.events !== undefined ? { events: [...changes.events] } : {}),
        ...(changes.description !== undefined ? { description: changes.description } : {}),
        // Enabling clears the reason of an automatic disable and starts afresh.
        ...(changes.enabled === true && !before.enabled
          ? { enabled: true, disabled_reason: null, failing_since: null }
          : {}),
        ...(changes.enabled === false ? { enabled: false } : {}),
        updated_at: now,
      });
      if (!updated) throw endpointNotFound();
      await this.audit(trx, 'webhook.updated', actor, ctx, now, {
        webhookId: id,
        changed: Object.keys(changes).filter(
          (k) => changes[k as keyof WebhookEndpointChanges] !== undefined,
        ),
        ...(changes.url !== undefined ? { url: redactUrl(changes.url) } : {}),
        ...(changes.enabled !== undefined ? { enabled: changes.enabled } : {}),
      });
      return updated;
    });
    if (row.enabled) this.o.onQueued?.();
    return toWebhookEndpointView(row);
  }

  async remove(actor: Actor, id: string, ctx: RequestContext): Promise<void> {
    const now = this.o.clock();
    await this.o.db.transaction().execute(async (trx) => {
      const before = await this.find(trx, id);
      await deleteWebhookEndpoint(trx, before.id);
      await this.audit(trx, 'webhook.deleted', actor, ctx, now, {
        webhookId: id,
        url: redactUrl(before.url),
      });
    });
  }

  /**
   * A new secret; the one it replaces keeps signing (a second signature) for 24 hours. Rotating
   * again within them drops the oldest: only the last two secrets ever sign.
   */
  async rotateSecret(actor: Actor, id: string, ctx: RequestContext): Promise<{ secret: string }> {
    const now = this.o.clock();
    const secret = generateWebhookSecret();
    await this.o.db.transaction().execute(async (trx) => {
      const before = await this.find(trx, id);
      const current = unseal(this.o.secretKey, before.secret_encrypted, before.id);
      await updateWebhookEndpoint(trx, before.id, {
        secret_encrypted: seal(this.o.secretKey, secret, before.id),
        previous_secret_encrypted: seal(this.o.secretKey, current, `${before.id}.previous`),
        previous_secret_expires_at: new Date(now.getTime() + PREVIOUS_SECRET_SECONDS * 1000),
        updated_at: now,
      });
      await this.audit(trx, 'webhook.secret_rotated', actor, ctx, now, { webhookId: id });
    });
    return { secret };
  }

  /** Queues a `webhook.test` event for this endpoint alone; returns its id. */
  async test(actor: Actor, id: string, ctx: RequestContext): Promise<{ eventId: string }> {
    const now = this.o.clock();
    const eventId = await this.o.db.transaction().execute(async (trx) => {
      const endpoint = await this.find(trx, id);
      if (!endpoint.enabled) {
        throw new AuthError(
          'webhook_disabled',
          409,
          'This webhook is disabled: enable it first, then send the test.',
        );
      }
      const written = await writeEvent(
        trx,
        'webhook.test',
        { data: { webhookId: endpoint.id } },
        [endpoint.id],
        now,
      );
      await this.audit(trx, 'webhook.tested', actor, ctx, now, {
        webhookId: id,
        eventId: written,
      });
      return written;
    });
    this.o.onQueued?.();
    return { eventId };
  }

  async deliveries(
    id: string,
    query: {
      status?: WebhookDeliveryStatus | undefined;
      cursor?: string | undefined;
      limit: number;
    },
  ): Promise<{ deliveries: WebhookDeliveryView[]; nextCursor: string | null }> {
    const endpoint = await this.find(this.o.db, id);
    const rows = await listDeliveries(this.o.db, endpoint.id, {
      limit: query.limit + 1,
      beforeEventId: decodeCursor(query.cursor),
      ...(query.status ? { status: query.status } : {}),
    });
    // Paged by event id (one delivery per event and endpoint).
    const { items, nextCursor } = page(
      rows.map((r) => ({ ...r, cursorId: r.id, id: r.eventId })),
      query.limit,
    );
    return {
      deliveries: items.map((r) => ({
        id: r.cursorId,
        eventId: r.eventId,
        type: r.type,
        status: r.status,
        attempts: r.attempts,
        lastStatusCode: r.lastStatusCode,
        lastError: r.lastError,
        nextAttemptAt: r.nextAttemptAt.toISOString(),
        createdAt: r.createdAt.toISOString(),
      })),
      nextCursor,
    };
  }

  /** Queues a delivery again, due now, with a fresh retry period. */
  async retry(actor: Actor, id: string, deliveryId: string, ctx: RequestContext): Promise<void> {
    if (!UUID.test(id) || !UUID.test(deliveryId)) {
      throw new AuthError('not_found', 404, 'There is no such delivery.');
    }
    const now = this.o.clock();
    await this.o.db.transaction().execute(async (trx) => {
      if (!(await retryDelivery(trx, id, deliveryId, now))) {
        throw new AuthError('not_found', 404, 'There is no such delivery.');
      }
      await this.audit(trx, 'webhook.delivery_retried', actor, ctx, now, {
        webhookId: id,
        deliveryId,
      });
    });
    this.o.onQueued?.();
  }

  private async find(db: Queryable, id: string): Promise<WebhookEndpointRow> {
    if (!UUID.test(id)) throw endpointNotFound();
    const row = await findWebhookEndpoint(db, id);
    if (!row) throw endpointNotFound();
    return row;
  }

  private checkUrl(url: string): void {
    if (this.o.allowPrivateNetworks) return;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return; // the schema already refused it
    }
    const reason = refusedUrlReason(parsed);
    if (reason) {
      const message = `Webhooks cannot reach ${reason} unless WEBHOOK_ALLOW_PRIVATE_NETWORKS=true.`;
      throw new AuthError('webhook_url_refused', 400, message, {
        errors: [{ field: 'url', message }],
      });
    }
  }

  private audit(
    db: Queryable,
    type: string,
    actor: Actor,
    ctx: RequestContext,
    now: Date,
    data: Record<string, unknown>,
  ) {
    return recordAuditEvent(
      db,
      {
        type,
        actorId: actor.id,
        ip: ctx.ip,
        userAgent: ctx.userAgent,
        data: { ...data, via: actor.via },
      },
      now,
    );
  }
}
