import type { UserWithRoles } from '../store/users.js';

/**
 * What every flow shares: who is asking, and what the API shows of a user and a session.
 * A module of its own so that the flows (auth, account, admin, tokens) import it, not each other.
 */

/** Who is asking: recorded on sessions and audit events. */
export interface RequestContext {
  ip: string | null;
  userAgent: string | null;
  /** Aborted when the client hangs up: password hashing still queued for it is dropped. */
  signal?: AbortSignal;
}

/** What the API shows of a user. */
export interface PublicUser {
  id: string;
  email: string;
  name: string | null;
  emailVerified: boolean;
  roles: string[];
  createdAt: string;
}

// A row answered from the session cache is shown on every request for seconds: its public form
// (toISOString above all) is made once. Rows are read fresh for every change, never edited after
// being shown.
const publicForms = new WeakMap<UserWithRoles, PublicUser>();

export function toPublicUser(user: UserWithRoles): PublicUser {
  let shown = publicForms.get(user);
  if (!shown) {
    shown = {
      id: user.id,
      email: user.email,
      name: user.name,
      emailVerified: user.email_verified_at !== null,
      roles: user.roles,
      createdAt: user.created_at.toISOString(),
    };
    publicForms.set(user, shown);
  }
  return shown;
}

/** A new session: `token` goes to the browser (cookie) and nowhere else. */
export interface IssuedSession {
  token: string;
  csrfToken: string;
  sessionId: string;
  user: PublicUser;
}

/** The new cookie and CSRF token of a session that replaced another (see `SessionIssuer.rotate`). */
export interface RotatedSession {
  token: string;
  csrfToken: string;
  sessionId: string;
}

export interface AuthenticatedSession {
  sessionId: string;
  csrfToken: string;
  user: PublicUser;
  /** How the session signed in (RFC 8176: `pwd`, `otp`, `hwk`, `swk`, `mfa`). */
  amr: string[];
  /** The last sign-in or re-authentication. */
  authenticatedAt: Date;
}
