/**
 * Every `code` of the API's problem documents: the stable field clients branch on. The server
 * can only answer with one of these (its problem functions and errors take a `ProblemCode`), and
 * the SDK's errors are typed with them. Removing or renaming one breaks clients; add new ones.
 */
export const PROBLEM_CODES = [
  // The request itself.
  'validation_failed',
  'malformed_json',
  'malformed_request',
  'bad_request',
  'bad_url',
  'missing_host',
  'uri_too_long',
  'headers_too_large',
  'body_too_large',
  'unsupported_media_type',
  'unsupported_encoding',
  'expectation_failed',
  'request_timeout',
  'method_not_allowed',
  'not_found',
  // Sign-up, sign-in, mailed links, sessions and tokens.
  'weak_password',
  'invalid_credentials',
  'email_not_verified',
  'email_taken',
  'invalid_token',
  'password_required',
  'password_mismatch',
  'invalid_refresh_token',
  'unauthenticated',
  'csrf_failed',
  'origin_not_allowed',
  // Second factors.
  'invalid_code',
  'mfa_session_expired',
  'reauthentication_required',
  'mfa_enrollment_required',
  'totp_already_enabled',
  'mfa_not_enabled',
  'invalid_passkey',
  // Permissions and the admin API.
  'forbidden',
  'insufficient_privilege',
  'cannot_change_own_roles',
  'cannot_change_self',
  'last_admin',
  'user_disabled',
  'unknown_role',
  'unknown_permission',
  'role_exists',
  'invalid_cursor',
  // Webhooks.
  'webhook_url_refused',
  'webhook_disabled',
  // Limits and availability.
  'rate_limited',
  'rate_limiter_unavailable',
  'server_busy',
  'shutting_down',
  'service_unavailable',
  'not_ready',
  'client_closed_request',
  'internal_error',
] as const;

export type ProblemCode = (typeof PROBLEM_CODES)[number];

const known = new Set<string>(PROBLEM_CODES);

/** Narrows a code read from an answer (a newer server may send codes this list lacks). */
export function isProblemCode(code: string): code is ProblemCode {
  return known.has(code);
}
