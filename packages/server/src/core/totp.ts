import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';

/**
 * Authenticator-app codes (RFC 6238): SHA-1, 6 digits, 30 s steps, one step either side for
 * clock drift. The library does the arithmetic; replay is refused by the caller, which keeps
 * the newest step accepted (store/mfa-totp.ts).
 */
const PERIOD = 30;
const DIGITS = 6;
const WINDOW = 1;

/** 160 random bits (RFC 4226's recommended length), base32 as authenticator apps expect. */
export function newTotpSecret(): string {
  return new Secret({ buffer: randomBytes(20).buffer }).base32;
}

function totp(secret: string, issuer: string, label: string): TOTP {
  return new TOTP({
    issuer,
    label,
    algorithm: 'SHA1',
    digits: DIGITS,
    period: PERIOD,
    secret: Secret.fromBase32(secret),
  });
}

/** The `otpauth://` URI of a secret, and its QR code as SVG, made here (no third party). */
export async function totpEnrolment(
  secret: string,
  issuer: string,
  label: string,
): Promise<{ otpauthUrl: string; qrSvg: string }> {
  const otpauthUrl = totp(secret, issuer, label).toString();
  // Loaded at the first enrolment rather than at start.
  const { default: QRCode } = await import('qrcode');
  const qrSvg = await QRCode.toString(otpauthUrl, { type: 'svg', errorCorrectionLevel: 'M' });
  return { otpauthUrl, qrSvg };
}

/**
 * The time step a code belongs to, when it is right for the step of `nowMs` or one either
 * side; null otherwise (wrong, malformed, or too far from now).
 */
export function totpStep(secret: string, code: string, nowMs: number): number | null {
  const token = code.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(token)) return null;
  const delta = totp(secret, '', '').validate({ token, timestamp: nowMs, window: WINDOW });
  if (delta === null) return null;
  return TOTP.counter({ period: PERIOD, timestamp: nowMs }) + delta;
}
