import { createHash } from 'node:crypto';

/**
 * The optional breached-password check (HIBP_URL): a k-anonymity range lookup as Have I Been
 * Pwned's Pwned Passwords API defines it. Only the first 5 hex digits of the password's SHA-1
 * leave the server; the service answers every suffix it knows under that prefix, padded with
 * zero-count decoys (`Add-Padding`) so the answer's size tells nothing either.
 */
export interface BreachCheckOptions {
  /** The range endpoint; the 5-digit prefix is appended (https://api.pwnedpasswords.com/range/). */
  url: string;
  timeoutMs: number;
  /** Told why a lookup could not be made; the password is then judged without it. */
  onUnavailable?: (reason: string) => void;
}

/** How often the password appears in known breaches, or null when the service did not answer. */
export type BreachCheck = (password: string) => Promise<number | null>;

/** Range answers are tens of kilobytes; anything far larger is not one. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/** The body as text, or null once it grows past `max` bytes (read no further). */
async function readCapped(res: Response, max: number): Promise<string | null> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks).toString('utf8');
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
}

export function createBreachCheck(o: BreachCheckOptions): BreachCheck {
  return async (password) => {
    const sha1 = createHash('sha1').update(password, 'utf8').digest('hex').toUpperCase();
    const prefix = sha1.slice(0, 5);
    const suffix = sha1.slice(5);
    let text: string;
    try {
      const res = await fetch(`${o.url}${prefix}`, {
        headers: { 'add-padding': 'true', 'user-agent': 'Latchkey' },
        signal: AbortSignal.timeout(o.timeoutMs),
        redirect: 'error',
      });
      if (!res.ok) {
        await res.body?.cancel();
        o.onUnavailable?.(`HTTP ${res.status}`);
        return null;
      }
      const body = await readCapped(res, MAX_ANSWER_BYTES);
      if (body === null) {
        o.onUnavailable?.('the answer is too large to be a range answer');
        return null;
      }
      text = body;
    } catch (error) {
      o.onUnavailable?.(error instanceof Error ? error.message : String(error));
      return null;
    }
    for (const line of text.split('\n')) {
      const [hashSuffix, count] = line.trim().split(':');
      if (hashSuffix?.toUpperCase() === suffix) return Number.parseInt(count ?? '0', 10) || 0;
    }
    return 0;
  };
}
