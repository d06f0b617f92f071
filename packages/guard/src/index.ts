/**
 * `@latchkey/guard`: the Web-standard core (`new Latchkey(options).verifyRequest(request)`,
 * `authorize()` for Fetch API runtimes) and the helpers every adapter shares. The framework
 * layers are `./express`, `./fastify`, `./next` and `./nest`.
 */
export * from './core.js';
export { authorize, type Needs } from './adapter.js';
export { verifyWebhook, WebhookVerificationError, type WebhookEvent } from './webhooks.js';
