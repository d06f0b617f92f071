import { z } from 'zod';

/**
 * Webhooks: the event types an endpoint can ask for and the admin API's shapes. The server
 * emits these types, the SDK and the admin page list them.
 */
export const WEBHOOK_EVENT_TYPES = [
  'user.created',
  'user.verified',
  'user.updated',
  'user.deleted',
  'session.created',
  'session.revoked',
  'password.changed',
  'password.reset',
  'email.changed',
  'mfa.enabled',
  'mfa.disabled',
  'refresh_token.reused',
  'webhook.test',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

const eventType = z.enum(WEBHOOK_EVENT_TYPES, 'A known event type (see docs/webhooks.md).');
const webhookUrl = z
  .string()
  .trim()
  .max(2048)
  .pipe(z.url({ protocol: /^https?$/, error: 'An http(s) URL.' }));
const events = z
  .array(eventType)
  .min(1, 'Choose at least one event type.')
  .max(WEBHOOK_EVENT_TYPES.length)
  .refine((list) => new Set(list).size === list.length, 'Each event type once.');
const description = z.string().trim().max(200);

export const webhookEndpoint = z
  .object({
    id: z.uuid(),
    url: z.string(),
    events: z.array(z.string()),
    description: z.string(),
    enabled: z.boolean(),
    /** Why Latchkey disabled it (every delivery failing for days); null otherwise. */
    disabledReason: z.string().nullable(),
    /** When deliveries started failing without a success since; null when healthy. */
    failingSince: z.iso.datetime().nullable(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'WebhookEndpoint' });
export const createWebhookBody = z.strictObject({
  url: webhookUrl,
  events,
  description: description.optional(),
});
export const createdWebhookResponse = webhookEndpoint
  .extend({
    /** `whsec_` + base64: shown here and on rotation only. */
    secret: z.string(),
  })
  .meta({ id: 'CreatedWebhookEndpoint' });
export const webhooksResponse = z.object({ webhooks: z.array(webhookEndpoint) });
export const updateWebhookBody = z.strictObject({
  url: webhookUrl.optional(),
  events: events.optional(),
  description: description.optional(),
  enabled: z.boolean().optional(),
});
export const webhookSecretResponse = z.object({ secret: z.string() });
export const webhookTestResponse = z.object({
  message: z.string(),
  /** The `webhook-id` the receiver will see. */
  eventId: z.uuid(),
});
/** Any string: a malformed id is the same 404 as an unknown one. */
export const webhookIdParams = z.strictObject({ id: z.string() });
export const webhookDeliveryParams = z.strictObject({ id: z.string(), deliveryId: z.string() });
export const webhookDelivery = z
  .object({
    id: z.uuid(),
    /** The `webhook-id` header of every attempt. */
    eventId: z.uuid(),
    type: z.string(),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number().int(),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    /** Pending: when the next attempt is due; otherwise when the last one was made. */
    nextAttemptAt: z.iso.datetime(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'WebhookDelivery' });
export const webhookDeliveriesQuery = z.strictObject({
  status: z.enum(['pending', 'delivered', 'failed']).optional(),
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
export const webhookDeliveriesResponse = z.object({
  deliveries: z.array(webhookDelivery),
  nextCursor: z.string().nullable(),
});
export type WebhookEndpointShape = z.infer<typeof webhookEndpoint>;
export type WebhookDeliveryShape = z.infer<typeof webhookDelivery>;
