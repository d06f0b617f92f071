/**
 * The contract between Latchkey's server and its clients: the API's request and response
 * schemas, the problem codes of its errors and the password rules. The server validates and
 * documents with these schemas, the SDK types and checks answers with them, and the pages
 * build their forms and their strength meter on them, so all three change together.
 */
export * from './schemas.js';
export * from './problem-codes.js';
export * from './password-rules.js';
export * from './webhooks.js';
