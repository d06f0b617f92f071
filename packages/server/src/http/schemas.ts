import { z } from 'zod';

/**
 * The API's request and response shapes: one definition feeds validation, the TypeScript
 * types, the OpenAPI document and (later) the SDK and the web forms.
 */

export const email = z
  .string()
  .trim()
  .max(254, 'An email address has at most 254 characters.')
  .pipe(z.email('Enter a valid email address.'));

/**
 * The policy (length in code points after NFKC, common passwords, strength) is enforced by
 * core with reasons a form can show; this only bounds the work an attacker can ask for.
 */
export const password = z.string().min(1, 'Enter a password.').max(4096);

export const token = z.string().min(1).max(512);

export const user = z
  .object({
    id: z.uuid(),
    email: z.string(),
    name: z.string().nullable(),
    emailVerified: z.boolean(),
    roles: z.array(z.string()),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'User' });

export const registerBody = z.strictObject({
  email,
  password,
  name: z.string().trim().min(1).max(100).optional(),
});
export const verifyEmailBody = z.strictObject({ token });
export const emailOnlyBody = z.strictObject({ email });
export const loginBody = z.strictObject({ email, password });

// Account flows (issue 3): reset, password and email change, signed-in devices.
export const resetPasswordBody = z.strictObject({ token, password });
export const changePasswordBody = z.strictObject({
  currentPassword: password,
  newPassword: password,
});
export const changeEmailBody = z.strictObject({ newEmail: email, password });
/** Any string: a malformed id is the same 404 as someone else's. */
export const sessionIdParams = z.strictObject({ id: z.string() });
export const deviceSession = z
  .object({
    id: z.uuid(),
    createdAt: z.iso.datetime(),
    lastSeenAt: z.iso.datetime(),
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    /** Readable label parsed from the user agent, e.g. "Firefox 133 on Windows 10". */
    device: z.string(),
    /** The session this request was made with. */
    current: z.boolean(),
  })
  .meta({ id: 'DeviceSession' });
export const sessionsResponse = z.object({ sessions: z.array(deviceSession) });

export const message = z.object({ message: z.string() });
export const userResponse = z.object({ user });
export const sessionResponse = z.object({
  user,
  /** Send back as X-CSRF-Token on every state-changing request made with the cookie. */
  csrfToken: z.string(),
});

export const problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    code: z.string(),
    requestId: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem' });

export type PublicUserShape = z.infer<typeof user>;
export type Problem = z.infer<typeof problem>;

export const noContent = z.null().describe('No content');

// Token mode (issue 5): access JWTs for APIs and other services, rotating refresh tokens.
export const tokenBody = z.strictObject({ email, password });
export const refreshTokenBody = z.strictObject({ refreshToken: token });
export const tokenPair = z
  .object({
    /** EdDSA JWT: send as `Authorization: Bearer <accessToken>`. */
    accessToken: z.string(),
    /** Opaque; single use: every refresh answers with a new one. */
    refreshToken: z.string(),
    tokenType: z.literal('Bearer'),
    /** Seconds until the access token expires. */
    expiresIn: z.number().int(),
  })
  .meta({ id: 'TokenPair' });
export const jwks = z
  .object({
    keys: z.array(
      z.looseObject({
        kty: z.string(),
        crv: z.string(),
        x: z.string(),
        kid: z.string(),
        alg: z.string(),
        use: z.string(),
      }),
    ),
  })
  .meta({ id: 'JWKS' });
/** GET /auth/me: `csrfToken` is null for bearer requests, which need none. */
export const meResponse = z.object({ user, csrfToken: z.string().nullable() });
export type TokenPairShape = z.infer<typeof tokenPair>;
