import type { LatchkeyOptions } from '@latchkey/guard/next';

/** One options object for the middleware and getUser() (each keeps a guard per object). */
export const latchkey: LatchkeyOptions = {
  // Latchkey's PUBLIC_URL, which is this app's own address (same origin).
  issuer: process.env.APP_URL ?? 'http://localhost:4002',
  // Where this server reaches Latchkey directly.
  serviceUrl: process.env.LATCHKEY_URL ?? 'http://localhost:3000',
};
