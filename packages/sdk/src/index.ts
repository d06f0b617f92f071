// The SDK's public surface: the client and its admin part, errors, token and cookie storage, and
// the API's types.
export { LatchkeyAdmin } from './admin.js';
export { createClient, LatchkeyClient, type LatchkeyClientOptions } from './client.js';
export { LatchkeyError } from './errors.js';
export { LatchkeyMfa, LatchkeyPasskeys } from './mfa.js';
export * from './storage.js';
export * from './types.js';
