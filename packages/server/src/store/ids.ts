import { randomUUID } from 'node:crypto';

let lastMs = 0;
let sequence = 0;

/**
 * UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then a 12-bit sequence (method 3 of §6.2) and
 * 62 random bits. Ids made in this process sort in creation order even within one millisecond
 * or under a frozen test clock, which the outbox relies on to send mail in order. The random
 * bits, variant included, are those of a `randomUUID()`, which draws from a buffered CSPRNG:
 * one `randomBytes` call per id cost more than the rest of the id.
 */
export function uuidv7(now: number = Date.now()): string {
  const random = randomUUID();
  if (now > lastMs) {
    lastMs = now;
    sequence = parseInt(random.slice(0, 3), 16) & 0x1ff; // random start, leaves room to count
  } else if (++sequence > 0xfff) {
    lastMs++;
    sequence = 0;
  }
  const ms = lastMs.toString(16).padStart(12, '0');
  return `${ms.slice(0, 8)}-${ms.slice(8)}-7${sequence.toString(16).padStart(3, '0')}-${random.slice(19)}`;
}
