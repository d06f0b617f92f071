import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Verifying Latchkey's webhooks in the receiving app, per the Standard Webhooks specification:
 * `webhook-signature` holds one or more `v1,<base64 HMAC-SHA256>` (space-separated; two during
 * a secret rotation) over `<webhook-id>.<webhook-timestamp>.<raw body>`, keyed with the base64
 * part of the `whsec_…` secret. Any Standard Webhooks library verifies the same messages.
 */

/** The body of a Latchkey webhook. */
export interface WebhookEvent {
  type: string;
  /** When the event happened (ISO 8601). */
  timestamp: string;
  data: Record<string, unknown>;
}

export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

/** Node's `req.headers`, a Fetch `Headers`, or a plain object. */
export type WebhookHeaders =
  { get(name: string): string | null } | Record<string, string | string[] | undefined>;

export interface VerifyWebhookOptions {
  /** How far `webhook-timestamp` may be from now, in seconds (replays); default 300. */
  toleranceSeconds?: number;
  /** The time to check against (tests). */
  now?: Date;
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof headers.get === 'function') {
    return (headers as { get(n: string): string | null }).get(name) ?? undefined;
  }
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value[0] : value;
}

function keyOf(secret: string): Buffer {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
  if (key.length === 0) throw new WebhookVerificationError('The webhook secret is empty');
  return key;
}

/**
 * Checks a webhook request and returns its parsed body; throws WebhookVerificationError when the
 * headers are missing, the timestamp is outside the tolerance, or no signature matches.
 * `rawBody` must be the bytes received, before any JSON parsing (`express.raw()`). `secret` may
 * be a list, to accept the old and the new secret while you rotate yours. Deliveries are at
 * least once: deduplicate on the `webhook-id` header.
 */
export function verifyWebhook(
  secret: string | string[],
  headers: WebhookHeaders,
  rawBody: string | Uint8Array,
  options: VerifyWebhookOptions = {},
): WebhookEvent {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError(
      'Missing webhook-id, webhook-timestamp or webhook-signature',
    );
  }
  if (!/^\d+$/.test(timestamp)) throw new WebhookVerificationError('Invalid webhook-timestamp');
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const tolerance = options.toleranceSeconds ?? 300;
  if (Math.abs(now - Number(timestamp)) > tolerance) {
    throw new WebhookVerificationError('The webhook-timestamp is too old or too new');
  }
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : Buffer.from(rawBody);
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`, 'utf8'), body]);
  const expected = (Array.isArray(secret) ? secret : [secret]).map((s) =>
    createHmac('sha256', keyOf(s)).update(signed).digest(),
  );
  const matches = signatures.split(' ').some((entry) => {
    const [version, value] = entry.split(',', 2);
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value, 'base64');
    return expected.some((e) => e.length === given.length && timingSafeEqual(e, given));
  });
  if (!matches) throw new WebhookVerificationError('No matching webhook signature');
  try {
    return JSON.parse(body.toString('utf8')) as WebhookEvent;
  } catch {
    throw new WebhookVerificationError('The webhook body is not JSON');
  }
}
