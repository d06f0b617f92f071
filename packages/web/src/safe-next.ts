/** Where to go after signing in when ?next= is missing or refused. */
const DEFAULT_NEXT = '/account';

// Browsers drop tabs and newlines from URLs and read "\" as "/", so "/\t/evil.com" and
// "/\evil.com" both mean "//evil.com": another site.
function hasUnsafeChar(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x5c || code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

function isSafePath(value: string, origin: string): boolean {
  if (!value.startsWith('/') || value[1] === '/' || hasUnsafeChar(value)) return false;
  try {
    return new URL(value, origin).origin === origin;
  } catch {
    return false;
  }
}

/**
 * Whether `value` (a ?next= parameter) is a path of this site, the only place the pages send
 * someone after signing in. Its percent-decoded form must be one too ("/%5Cevil.com"), in case
 * anything on the way decodes it.
 */
export function isSafeNext(
  value: string | null | undefined,
  origin: string = window.location.origin,
): value is string {
  if (!value || !isSafePath(value, origin)) return false;
  try {
    return isSafePath(decodeURIComponent(value), origin);
  } catch {
    return false;
  }
}

/** The ?next= value when it is safe, else the account page. */
export function safeNext(
  value: string | null | undefined,
  origin: string = window.location.origin,
): string {
  return isSafeNext(value, origin) ? value : DEFAULT_NEXT;
}

/** The addresses these pages answer themselves; any other path of the site belongs to the app around them. */
const OWN_PAGES = new Set([
  '/',
  '/login',
  '/two-step',
  '/register',
  '/check-email',
  '/verify-email',
  '/resend-verification',
  '/forgot-password',
  '/reset-password',
  '/account',
  '/admin',
]);

/**
 * Whether going to `path` (a safe `next`) stays inside these pages. When the app shares the
 * origin (its /dashboard next to our /login), its pages need a real page load, not the router.
 */
export function isOwnPage(path: string, origin: string = window.location.origin): boolean {
  return OWN_PAGES.has(new URL(path, origin).pathname);
}

/**
 * Goes to the page `?next=` asked for once signed in: by the router when it is one of these
 * pages, by a real page load when it is the app's (same origin).
 */
export function goToNext(
  navigate: (to: string, options: { replace: boolean }) => void,
  raw: string | null,
): void {
  const next = safeNext(raw);
  if (isOwnPage(next)) navigate(next, { replace: true });
  else window.location.replace(next);
}
