import {
  type AuthResult,
  hasPermission,
  hasRole,
  type LatchkeyUser,
  type Problem,
  problem,
  refusal,
} from './index.js';

/** What a protected route needs of the signed-in user, and what its 403 says otherwise. */
export interface Rule {
  allows(
    user: LatchkeyUser | null | undefined,
    rolePermissions: () => Record<string, string[]> | undefined,
  ): boolean;
  detail: string;
}

/** The rules of `requireAuth()`, `requireRole()` and `requirePermission()`, in every adapter. */
export const rules = {
  auth: (): Rule => ({ allows: () => true, detail: '' }),
  role: (roles: string[]): Rule => ({
    allows: (user) => hasRole(user, roles),
    detail: `This needs the role ${roles.join(' or ')}.`,
  }),
  permission: (permissions: string[]): Rule => ({
    allows: (user, rolePermissions) => hasPermission(user, permissions, rolePermissions()),
    detail: `This needs the permission ${permissions.join(' and ')}.`,
  }),
};

/**
 * The problem+json answer of a protected route (undefined: let the request through): the
 * refusal of the credential first (401, 403 `csrf_failed`, 503), then 403 `forbidden` when
 * the rule does not allow the user.
 */
export function refusalFor(
  result: AuthResult,
  rule: Rule,
  user: LatchkeyUser | null | undefined,
  rolePermissions: () => Record<string, string[]> | undefined,
): { status: number; body: Problem; headers: Record<string, string> } | undefined {
  const refused = refusal(result);
  if (refused)
    return { status: refused.problem.status, body: refused.problem, headers: refused.headers };
  if (!rule.allows(user, rolePermissions))
    return { status: 403, body: problem(403, 'forbidden', rule.detail), headers: {} };
  return undefined;
}
