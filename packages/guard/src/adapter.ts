import {
  type AuthResult,
  type Latchkey,
  type RequestLike,
  hasPermission,
  hasRole,
  hasSecondFactor,
  type LatchkeyUser,
  type Problem,
  problem,
  refusal,
} from './core.js';

/** What a protected route needs of the signed-in user, and what its 403 says otherwise. */
export interface Rule {
  allows(
    user: LatchkeyUser | null | undefined,
    rolePermissions: () => Record<string, string[]> | undefined,
  ): boolean;
  code: string;
  detail: string;
}

/** The rules of `requireAuth()`, `requireRole()`, `requirePermission()` and `requireMfa()`, in every adapter. */
export const rules = {
  auth: (): Rule => ({ allows: () => true, code: 'forbidden', detail: '' }),
  role: (roles: string[]): Rule => ({
    allows: (user) => hasRole(user, roles),
    code: 'forbidden',
    detail: `This needs the role ${roles.join(' or ')}.`,
  }),
  permission: (permissions: string[]): Rule => ({
    allows: (user, rolePermissions) => hasPermission(user, permissions, rolePermissions()),
    code: 'forbidden',
    detail: `This needs the permission ${permissions.join(' and ')}.`,
  }),
  mfa: (): Rule => ({
    allows: (user) => hasSecondFactor(user),
    code: 'mfa_required',
    detail: 'This needs a sign-in with a second factor: sign out, then sign in with it.',
  }),
};

export interface Refused {
  status: number;
  body: Problem;
  headers: Record<string, string>;
}

/**
 * The problem+json answer of a protected route (undefined: let the request through): the
 * refusal of the credential first (401, 403 `csrf_failed`, 503), then 403 when a rule does not
 * allow the user (`forbidden`, or `mfa_required`).
 */
export function refusalFor(
  result: AuthResult,
  rule: Rule | Rule[],
  rolePermissions: () => Record<string, string[]> | undefined,
): Refused | undefined {
  const refused = refusal(result);
  if (refused)
    return { status: refused.problem.status, body: refused.problem, headers: refused.headers };
  const user = result.kind === 'user' ? result.user : null;
  for (const r of [rule].flat()) {
    if (!r.allows(user, rolePermissions))
      return { status: 403, body: problem(403, r.code, r.detail), headers: {} };
  }
  return undefined;
}

/** A refusal as a Fetch API response (Next.js, workers). */
export function problemResponse(refused: Refused): Response {
  return new Response(JSON.stringify(refused.body), {
    status: refused.status,
    headers: { ...refused.headers, 'content-type': 'application/problem+json' },
  });
}

/** Node's header object read like a Fetch API `Headers` (first value of a repeated header). */
export function nodeHeaders(headers: Record<string, string | string[] | undefined>) {
  return {
    get(name: string): string | null {
      const value = headers[name];
      return (Array.isArray(value) ? value[0] : value) ?? null;
    },
  };
}

/** What `authorize` checks beyond a signed-in user. */
export interface Needs {
  /** Any one of these roles. */
  roles?: string[];
  /** Every one of these permissions (`admin` has all; others from `rolePermissions`). */
  permissions?: string[];
  /** A sign-in with a second factor (`hasSecondFactor`). */
  mfa?: boolean;
}

export function rulesFor(needs: Needs): Rule[] {
  const list = [rules.auth()];
  if (needs.roles?.length) list.push(rules.role(needs.roles));
  if (needs.permissions?.length) list.push(rules.permission(needs.permissions));
  if (needs.mfa) list.push(rules.mfa());
  return list;
}

/**
 * For any Fetch API runtime (Hono, Bun, Deno, workers, route handlers): the signed-in user, or
 * the problem+json response to send instead (401, 403 `forbidden`/`mfa_required`/`csrf_failed`, 503).
 */
export async function authorize(
  latchkey: Latchkey,
  request: RequestLike,
  needs: Needs = {},
): Promise<
  { user: LatchkeyUser; response?: undefined } | { user?: undefined; response: Response }
> {
  const result = await latchkey.verifyRequest(request);
  const refused = refusalFor(result, rulesFor(needs), () => latchkey.options.rolePermissions);
  if (refused) return { response: problemResponse(refused) };
  if (result.kind !== 'user') throw new Error('unreachable: a result without a user is refused');
  return { user: result.user };
}
