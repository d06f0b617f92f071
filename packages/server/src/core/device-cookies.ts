import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from './clock.js';
import { accountKey } from './throttle.js';

/** How long a browser stays a known device of an account after its last sign-in there. */
export const DEVICE_COOKIE_MAX_AGE_SECONDS = 365 * 86_400;

const FORMAT = /^v1\.([\w-]{22})\.(\d{1,12})\.([\w-]{43})$/;

/**
 * Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"): a browser
 * that signed in to an account gets `v1.<device id>.<issued at>.<HMAC>`, the HMAC binding the
 * random device id to the account's email key. Its later sign-in attempts count against that
 * device alone, so strangers failing against the account cannot lock it out.
 *
 * Signed, not stored: any instance with the same KEY_ENCRYPTION_SECRET (or key file) checks it,
 * and it survives restarts. The email is not in the cookie, only in the HMAC.
 */
export class DeviceCookies {
  constructor(private readonly o: { key: Buffer; clock: Clock }) {}

  /** A new device cookie value for a browser that just signed in as `email`. */
  issue(email: string): string {
    const deviceId = randomBytes(16).toString('base64url');
    const issuedAt = String(Math.floor(this.o.clock().getTime() / 1000));
    return `v1.${deviceId}.${issuedAt}.${this.mac(email, deviceId, issuedAt)}`;
  }

  /**
   * The device id of `token` when it is a device cookie issued for `email` within its
   * lifetime; null for anything else (another account's cookie, a forged or stale one).
   */
  deviceFor(token: string | undefined, email: string): string | null {
    const match = token && token.length <= 100 ? FORMAT.exec(token) : null;
    if (!match) return null;
    const [, deviceId, issuedAt, mac] = match as unknown as [string, string, string, string];
    const age = this.o.clock().getTime() / 1000 - Number(issuedAt);
    if (age > DEVICE_COOKIE_MAX_AGE_SECONDS) return null;
    const expected = Buffer.from(this.mac(email, deviceId, issuedAt));
    return timingSafeEqual(expected, Buffer.from(mac)) ? deviceId : null;
  }

  private mac(email: string, deviceId: string, issuedAt: string): string {
    return createHmac('sha256', this.o.key)
      .update(`v1.${accountKey(email)}.${deviceId}.${issuedAt}`)
      .digest('base64url');
  }
}
