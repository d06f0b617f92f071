import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { isRefusedAddress, refusedUrlReason } from '../core/webhook-addresses.js';

/** At most this much of a receiver's answer is read; the rest is cut off unread. */
export const RESPONSE_BODY_CAP = 4096;

/** A failed attempt: `statusCode` when the receiver answered (not 2xx), else null. */
export class WebhookSendError extends Error {
  constructor(
    message: string,
    readonly statusCode: number | null,
    /** Refused before connecting (a private address); retried all the same, the DNS may change. */
    readonly refused = false,
  ) {
    super(message);
    this.name = 'WebhookSendError';
  }
}

/**
 * A lookup that refuses names resolving to a loopback, private, link-local, metadata or reserved
 * address. The socket connects to the address this returns, so the address checked is the
 * address used: a name that resolves to a public address for a check and to 127.0.0.1 for the
 * connection (DNS rebinding) has no second resolution to exploit.
 */
const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...(options as LookupOptions), all: true }, (error, addresses) => {
    if (error) {
      callback(error, '', 4);
      return;
    }
    const list = addresses as LookupAddress[];
    const refused = list.find((a) => isRefusedAddress(a.address));
    if (refused || list.length === 0) {
      const reason = refused
        ? `${hostname} resolves to ${refused.address}, a loopback, private or reserved address`
        : `${hostname} has no address`;
      callback(Object.assign(new Error(reason), { code: 'EWEBHOOKREFUSED' }), '', 4);
      return;
    }
    if ((options as LookupOptions).all) {
      (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
    } else {
      const first = list[0] as LookupAddress;
      callback(null, first.address, first.family);
    }
  });
};

export interface SendOptions {
  timeoutMs: number;
  allowPrivateNetworks: boolean;
  signal?: AbortSignal;
}

/**
 * POSTs one signed webhook. Resolves with the status of a 2xx; throws WebhookSendError for
 * anything else: another status (redirects are not followed), a refused address, a connection
 * error, or no complete answer within `timeoutMs` (connection, headers and the capped body).
 */
export function sendWebhook(
  url: string,
  headers: Record<string, string>,
  body: string,
  options: SendOptions,
): Promise<{ statusCode: number }> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      reject(new WebhookSendError('The endpoint URL is not valid', null));
      return;
    }
    if (!options.allowPrivateNetworks) {
      const reason = refusedUrlReason(target);
      if (reason) {
        reject(new WebhookSendError(`Refused: ${reason}`, null, true));
        return;
      }
    }
    const client = target.protocol === 'https:' ? https : http;
    let settled = false;
    const finish = (error: WebhookSendError | undefined, statusCode?: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      request.destroy();
      if (error) reject(error);
      else resolve({ statusCode: statusCode as number });
    };
    const request = client.request(target, {
      method: 'POST',
      headers: {
        ...headers,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        'user-agent': 'Latchkey-Webhooks/1',
      },
      // One connection per attempt: nothing pooled outlives the address check.
      agent: false,
      ...(options.allowPrivateNetworks ? {} : { lookup: guardedLookup }),
    });
    const timer = setTimeout(() => {
      finish(new WebhookSendError(`No answer within ${options.timeoutMs / 1000} s`, null));
    }, options.timeoutMs);
    const onAbort = () => finish(new WebhookSendError('Cut off by shutdown', null));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    request.on('error', (error: NodeJS.ErrnoException) => {
      const refused = error.code === 'EWEBHOOKREFUSED';
      finish(
        new WebhookSendError(
          refused ? `Refused: ${error.message}` : describe(error),
          null,
          refused,
        ),
      );
    });
    request.on('response', (response) => {
      const status = response.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => {
        if (status >= 200 && status < 300) {
          finish(undefined, status);
          return;
        }
        const excerpt = Buffer.concat(chunks)
          .toString('utf8')
          .replace(/\s+/g, ' ')
          .trim()
          .slice(0, 200);
        const redirect = status >= 300 && status < 400 ? ' (redirects are not followed)' : '';
        finish(
          new WebhookSendError(`HTTP ${status}${redirect}${excerpt ? `: ${excerpt}` : ''}`, status),
        );
      };
      response.on('data', (chunk: Buffer) => {
        if (size < RESPONSE_BODY_CAP) chunks.push(chunk.subarray(0, RESPONSE_BODY_CAP - size));
        size += chunk.length;
        // Enough: the status decides, and a receiver streaming forever must not hold the worker.
        if (size >= RESPONSE_BODY_CAP) done();
      });
      response.on('end', done);
      response.on('error', () => done());
    });
    request.end(body);
  });
}

function describe(error: NodeJS.ErrnoException): string {
  const text = error.code ? `${error.code}: ${error.message}` : error.message;
  return text.replace(/\s+/g, ' ').slice(0, 300);
}
