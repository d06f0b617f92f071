import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { nodeHeaders, type Rule, refusalFor, rules } from './adapter.js';
import { type AuthResult, Latchkey, type LatchkeyOptions, type LatchkeyUser } from './core.js';

export type { LatchkeyOptions, LatchkeyUser } from './core.js';

declare global {
  // Express's own way to type what middleware adds to a request.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `latchkey()`: the signed-in user, or null. */
      user?: LatchkeyUser | null;
      /** Set by `latchkey()`: the full result (why there is no user) and the guard. */
      latchkey?: { result: AuthResult; guard: Latchkey };
    }
  }
}

/**
 * Reads the request's credential (bearer JWT, verified locally; or Latchkey's session cookie,
 * checked with the service) and sets `req.user` (null when anonymous). Never answers by itself:
 * protect routes with `requireAuth()`, `requireRole()`, `requirePermission()` or `requireMfa()`.
 */
export function latchkey(options: LatchkeyOptions): RequestHandler {
  const guard = new Latchkey(options);
  return (req: Request, _res: Response, next: NextFunction) => {
    guard
      .verifyRequest({ method: req.method, headers: nodeHeaders(req.headers) })
      .then((result) => {
        req.latchkey = { result, guard };
        req.user = result.kind === 'user' ? result.user : null;
        next();
      }, next);
  };
}

function guarded(rule: Rule): RequestHandler {
  return (req, res, next) => {
    const state = req.latchkey;
    if (!state) {
      next(new Error('@latchkey/guard: app.use(latchkey({...})) must come before requireAuth()'));
      return;
    }
    const refused = refusalFor(state.result, rule, () => state.guard.options.rolePermissions);
    if (refused) {
      res
        .status(refused.status)
        .set(refused.headers)
        .type('application/problem+json')
        .send(JSON.stringify(refused.body));
      return;
    }
    next();
  };
}

/** 401 problem+json without a signed-in user (403 `csrf_failed`, 503 when Latchkey is down). */
export function requireAuth(): RequestHandler {
  return guarded(rules.auth());
}

/** 403 `forbidden` unless the user has one of `roles`. */
export function requireRole(...roles: string[]): RequestHandler {
  return guarded(rules.role(roles));
}

/** 403 `forbidden` unless the user's roles grant every permission (`admin` grants all). */
export function requirePermission(...permissions: string[]): RequestHandler {
  return guarded(rules.permission(permissions));
}

/** 403 `mfa_required` unless the session was signed in with a second factor (`hasSecondFactor`). */
export function requireMfa(): RequestHandler {
  return guarded(rules.mfa());
}
