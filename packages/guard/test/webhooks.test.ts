import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { signWebhook, webhookHeaders } from '../../server/src/core/webhooks.js';
import { verifyWebhook, WebhookVerificationError } from '../src/index.js';

const secret = `whsec_${Buffer.from('a secret of thirty-two bytes!!!!').toString('base64')}`;
const other = `whsec_${Buffer.from('another secret, also 32 bytes...').toString('base64')}`;
const body = JSON.stringify({
  type: 'user.created',
  timestamp: '2026-12-01T10:00:00.000Z',
  data: { user: { id: 'u1', email: 'ada@example.com' } },
});
const id = '01939f1e-0000-7000-8000-000000000001';

/** Headers as the standardwebhooks library signs them. */
function librarySigned(key: string, at = new Date(), payload = body) {
  const signature = new Webhook(key).sign(id, at, payload);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signature,
  };
}

describe('verifyWebhook', () => {
  it('accepts what the standardwebhooks library signs, from Node headers, Fetch Headers and bytes', () => {
    const headers = librarySigned(secret);
    expect(verifyWebhook(secret, headers, body)).toEqual(JSON.parse(body));
    expect(verifyWebhook(secret, new Headers(headers), Buffer.from(body))).toEqual(
      JSON.parse(body),
    );
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(verifyWebhook(secret, upper, new TextEncoder().encode(body)).type).toBe('user.created');
  });

  it('and the library accepts what Latchkey signs, with one secret or two during a rotation', () => {
    const timestamp = Math.floor(Date.now() / 1000);
    const one = webhookHeaders([secret], id, timestamp, body);
    expect(new Webhook(secret).verify(body, one)).toEqual(JSON.parse(body));
    expect(verifyWebhook(secret, one, body).type).toBe('user.created');
    const two = webhookHeaders([other, secret], id, timestamp, body);
    expect(two['webhook-signature'].split(' ')).toHaveLength(2);
    for (const key of [secret, other]) {
      expect(new Webhook(key).verify(body, two)).toEqual(JSON.parse(body));
      expect(verifyWebhook(key, two, body).type).toBe('user.created');
    }
    expect(signWebhook(secret, id, timestamp, body)).toBe(
      new Webhook(secret).sign(id, new Date(timestamp * 1000), body),
    );
  });

  it('refuses, like the library, a changed body, id or timestamp, another secret, and old messages', () => {
    const headers = librarySigned(secret);
    const refused = (key: string | string[], h: Record<string, string>, payload: string) => {
      expect(() => verifyWebhook(key, h, payload)).toThrow(WebhookVerificationError);
      for (const k of [key].flat()) expect(() => new Webhook(k).verify(payload, h)).toThrow();
    };
    refused(secret, headers, body.replace('ada', 'eve'));
    refused(secret, { ...headers, 'webhook-id': 'other-id' }, body);
    refused(
      secret,
      { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) - 1) },
      body,
    );
    refused(other, headers, body);
    refused(
      secret,
      { ...headers, 'webhook-signature': 'v2,' + headers['webhook-signature'].slice(3) },
      body,
    );
    refused(secret, librarySigned(secret, new Date(Date.now() - 10 * 60_000)), body);
    refused(secret, { 'webhook-id': id, 'webhook-timestamp': '1' }, body);
    // The old secret alongside the new one, while the receiver rotates its own copy.
    expect(verifyWebhook([other, secret], headers, body).type).toBe('user.created');
  });
});
