// Next.js is an optional peer: only apps that import `@latchkey/guard/next` load it.
import { headers as requestHeaders } from 'next/headers.js';
import { type NextRequest, NextResponse } from 'next/server.js';
import { type Needs, problemResponse, refusalFor, rulesFor } from './adapter.js';
import { Latchkey, type LatchkeyOptions, type LatchkeyUser } from './core.js';

export type { LatchkeyOptions, LatchkeyUser } from './core.js';
export { hasPermission, hasRole, hasSecondFactor } from './core.js';

/** A protected path (Next.js matcher syntax: `/dashboard/:path*`) and what it needs. */
export interface ProtectedPath extends Needs {
  path: string;
}

export interface ProtectOptions extends LatchkeyOptions {
  /** Where a person without a session is sent, with `?next=` the page they asked for. Default `/login`. */
  loginPath?: string;
  /** Roles every listed path needs unless its entry says otherwise. */
  roles?: string[];
  /**
   * Paths answered with problem+json (401/403) instead of a redirect, and whose cookie requests
   * that change state need `X-CSRF-Token`. Default `['/api/']`.
   */
  apiPrefixes?: string[];
}

/** Request headers the middleware passes on to pages and route handlers. */
export const USER_ID_HEADER = 'x-latchkey-user-id';
export const USER_ROLES_HEADER = 'x-latchkey-roles';
const PASSED_ON = [USER_ID_HEADER, USER_ROLES_HEADER];

/** One guard (key and session cache) per options object. */
const guards = new WeakMap<LatchkeyOptions, Latchkey>();
function guardFor(options: LatchkeyOptions): Latchkey {
  let guard = guards.get(options);
  if (!guard) {
    guard = new Latchkey(options);
    guards.set(options, guard);
  }
  return guard;
}

/** `/dashboard/:path*` as a regular expression (`:name`, `:name?`, `:name*`, `:name+`). */
export function pathPattern(path: string): RegExp {
  let source = '';
  for (const segment of path.split('/').filter(Boolean)) {
    const param = /^:\w+([?*+])?$/.exec(segment);
    if (!param) source += `/${segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`;
    else if (param[1] === '*') source += '(?:/[^/]+)*';
    else if (param[1] === '+') source += '(?:/[^/]+)+';
    else if (param[1] === '?') source += '(?:/[^/]+)?';
    else source += '/[^/]+';
  }
  // Case-insensitive: matching more paths than Next.js routes is the safe side.
  return new RegExp(`^${source || '/'}/?$`, 'i');
}

/**
 * The path as routing will see it: percent-decoded and without repeated slashes, so that
 * `/dashboard/%61dmin` or `/dashboard//admin` cannot slip past the rule for `/dashboard/admin`.
 */
export function routedPath(pathname: string): string {
  let decoded = pathname;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    // Malformed escapes: match the raw path (Next.js answers 400 to it anyway).
  }
  return decoded.replace(/\/{2,}/g, '/');
}

/** The page to come back to after signing in: a path of this site, never another origin. */
export function loginRedirect(request: NextRequest, loginPath: string): URL {
  const { pathname, search } = request.nextUrl;
  const back = pathname.startsWith('/') && !/^\/[/\\]|[\\\t\n\r]/.test(pathname) ? pathname : '/';
  const url = new URL(loginPath, request.nextUrl.origin);
  url.searchParams.set('next', back + search);
  return url;
}

const forbiddenPage = (detail: string) =>
  new Response(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Not allowed</title></head>` +
      `<body><h1>Not allowed</h1><p>${detail}</p><p><a href="/">Home</a></p></body></html>`,
    { status: 403, headers: { 'content-type': 'text/html; charset=utf-8' } },
  );

/**
 * The middleware (`middleware.ts`: `export default protect([...], options)`). On the listed
 * paths a person without a session is redirected to `loginPath?next=…`, API paths get 401/403
 * problem+json, and a user who lacks a role gets 403. The user's id and roles reach pages and
 * route handlers as `x-latchkey-user-id` / `x-latchkey-roles` request headers; the same headers
 * sent by a client are dropped on every path the middleware runs on, so run it on all of them.
 */
export function protect(paths: (string | ProtectedPath)[], options: ProtectOptions) {
  const guard = guardFor(options);
  const loginPath = options.loginPath ?? '/login';
  const apiPrefixes = options.apiPrefixes ?? ['/api/'];
  const entries = paths.map((entry) => {
    const spec: ProtectedPath = typeof entry === 'string' ? { path: entry } : entry;
    const roles = spec.roles ?? options.roles;
    return {
      pattern: pathPattern(spec.path),
      needs: rulesFor({ ...spec, ...(roles ? { roles } : {}) }),
    };
  });

  return async function latchkeyMiddleware(request: NextRequest): Promise<Response> {
    const forwarded = new Headers(request.headers);
    for (const name of PASSED_ON) forwarded.delete(name);
    const pathname = routedPath(request.nextUrl.pathname);
    const entry = entries.find((e) => e.pattern.test(pathname));
    if (!entry) return NextResponse.next({ request: { headers: forwarded } });

    const api = apiPrefixes.some((prefix) => pathname.startsWith(prefix));
    // Pages' Server Actions are POSTs that Next.js checks itself (Origin against Host); route
    // handlers under the API prefixes get the CSRF check of every other adapter.
    const result = await guard.verifyRequest({
      method: api ? request.method : 'GET',
      headers: request.headers,
    });
    const refused = refusalFor(result, entry.needs, () => options.rolePermissions);
    if (refused) {
      if (api) return problemResponse(refused);
      if (refused.status === 401) return NextResponse.redirect(loginRedirect(request, loginPath));
      if (refused.status === 403) return forbiddenPage(refused.body.detail);
      return problemResponse(refused);
    }
    if (result.kind === 'user') {
      forwarded.set(USER_ID_HEADER, result.user.id);
      forwarded.set(USER_ROLES_HEADER, result.user.roles.join(','));
    }
    return NextResponse.next({ request: { headers: forwarded } });
  };
}

/**
 * The signed-in user in a Server Component, Server Action or route handler, or null. It checks
 * the request's own credential (cached like every guard answer), so it is right on any path,
 * including those the middleware does not cover.
 */
export async function getUser(options: LatchkeyOptions): Promise<LatchkeyUser | null> {
  const result = await guardFor(options).verifyRequest({
    method: 'GET',
    headers: await requestHeaders(),
  });
  return result.kind === 'user' ? result.user : null;
}
