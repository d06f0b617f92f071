import { createHash, createHmac, hash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 32 random bytes, base64url: the secret handed to a browser or mailed in a link. */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The successor of a refresh token: HMAC-SHA256 of it under a server key, in the same format as
 * `generateToken`. Only the holder of the token (and of the key) can compute it, and a retry of
 * the same token gets the same successor with nothing stored but its hash.
 */
export function successorToken(key: Buffer, token: string): string {
  return createHmac('sha256', key).update(token).digest('base64url');
}

/**
 * SHA-256 of a token, hex. Only this is stored, so a read of the database yields nothing usable.
 * A plain hash (not a password hash) suffices: the token has 256 bits of entropy.
 */
export function hashToken(token: string): string {
  return hash('sha256', token, 'hex');
}

/** A token as we issue it: 43 base64url characters. Anything else is refused before a lookup. */
export function isWellFormedToken(value: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(value);
}

/** Constant-time string comparison (for CSRF tokens). */
export function safeEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right) && a.length === b.length;
}
