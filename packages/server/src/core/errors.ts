import type { ProblemCode } from '@latchkey/contract';

/**
 * An expected failure of an auth operation. `code` is the stable machine code clients branch
 * on; `status` is the HTTP status the http layer answers with.
 */
export class AuthError extends Error {
  constructor(
    readonly code: ProblemCode,
    readonly status: number,
    message: string,
    readonly extra: {
      retryAfterSeconds?: number;
      errors?: { field: string; message: string }[];
    } = {},
  ) {
    super(message);
    this.name = 'AuthError';
  }
}

export const errors = {
  invalidCredentials: () =>
    new AuthError('invalid_credentials', 401, 'The email or password is incorrect.'),
  emailNotVerified: () =>
    new AuthError(
      'email_not_verified',
      403,
      'Verify your email address first: follow the link we sent, or ask for a new one.',
    ),
  unauthenticated: () => new AuthError('unauthenticated', 401, 'Sign in to continue.'),
  invalidToken: () =>
    new AuthError('invalid_token', 400, 'This link is invalid or has expired. Ask for a new one.'),
  passwordRequired: () => {
    const message = 'Enter the password you chose when you signed up.';
    return new AuthError('password_required', 400, message, {
      errors: [{ field: 'password', message }],
    });
  },
  passwordMismatch: () => {
    const message =
      'That is not the password this address was signed up with. If you did not sign up, ignore the mail, or set a password with "Forgot password".';
    return new AuthError('password_mismatch', 400, message, {
      errors: [{ field: 'password', message }],
    });
  },
  emailTaken: () =>
    new AuthError('email_taken', 409, 'An account with this email address already exists.'),
  weakPassword: (message: string) =>
    new AuthError('weak_password', 400, message, { errors: [{ field: 'password', message }] }),
  busy: (retryAfterSeconds: number) =>
    new AuthError('server_busy', 503, 'The server is busy. Try again in a moment.', {
      retryAfterSeconds,
    }),
  shuttingDown: () =>
    new AuthError('shutting_down', 503, 'The server is restarting. Try again in a moment.', {
      retryAfterSeconds: 1,
    }),
  invalidCode: () =>
    new AuthError('invalid_code', 401, 'That code is not right. Check it and try again.'),
  mfaSessionExpired: () =>
    new AuthError(
      'mfa_session_expired',
      401,
      'This sign-in has expired or was already used. Sign in with your password again.',
    ),
  reauthenticationRequired: () =>
    new AuthError(
      'reauthentication_required',
      403,
      'Confirm it is you first: enter your password (or a code) again, then retry.',
    ),
  mfaEnrollmentRequired: () =>
    new AuthError(
      'mfa_enrollment_required',
      403,
      'Your role needs two-step sign-in: set up a second factor on your account page and use it to sign in.',
    ),
  /** The client hung up before the answer (nginx's 499); nobody reads this one. */
  clientClosedRequest: () =>
    new AuthError('client_closed_request', 499, 'The client closed the request.'),
};
