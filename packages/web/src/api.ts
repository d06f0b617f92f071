import { createClient, type LatchkeyClient, LatchkeyError } from '@latchkey/sdk';

/**
 * The one client of the pages: cookie mode on the page's own origin. The session lives in the
 * HttpOnly cookie and the CSRF token in the client's memory (fetched again with `me()` after a
 * reload); nothing goes to localStorage.
 */
export function createApi(baseUrl = window.location.origin): LatchkeyClient {
  return createClient({ baseUrl, mode: 'cookie' });
}

export { LatchkeyError };

/** The message a person should read for a failed call. */
export function describeError(error: unknown): string {
  if (error instanceof LatchkeyError) {
    switch (error.code) {
      case 'network_error':
        return 'The server cannot be reached. Check your connection and try again.';
      case 'rate_limited':
      case 'server_busy':
        return `Too many attempts. ${retryText(error.retryAfterSeconds)}`;
      case 'csrf_failed':
      case 'unauthenticated':
        return 'Your session has ended. Sign in again.';
      default:
        return error.message || 'Something went wrong. Try again.';
    }
  }
  return 'Something went wrong. Try again.';
}

/** "Try again in 2 minutes (at 14:03)." from Retry-After seconds. */
export function retryText(seconds: number | undefined, now = new Date()): string {
  if (!seconds) return 'Try again in a moment.';
  const at = new Date(now.getTime() + seconds * 1000);
  const time = at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (seconds < 60) return `Try again in ${seconds} second${seconds === 1 ? '' : 's'}.`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 120)
    return `Try again in ${minutes} minute${minutes === 1 ? '' : 's'} (at ${time}).`;
  return `Try again in ${Math.ceil(minutes / 60)} hours (at ${time}).`;
}

/** The field messages of a 400 (validation_failed, weak_password), by field name. */
export function fieldErrors(error: unknown): Record<string, string> {
  if (!(error instanceof LatchkeyError)) return {};
  return Object.fromEntries(error.fieldErrors.map((e) => [e.field, e.message]));
}
