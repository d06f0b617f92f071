import { z } from 'zod';

/**
 * The API's request and response shapes: one definition feeds the server's validation, its
 * response serialisation and OpenAPI document, the SDK's types and answer checks, and the web
 * forms. The `.meta({ id })` names are the OpenAPI component names.
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

/** A display name: sign-up's, and the one PATCH /auth/me sets. */
const name = z.string().trim().min(1).max(100);

export const registerBody = z.strictObject({
  email,
  password,
  name: name.optional(),
});
/** `password`: the one chosen at sign-up, needed by a sign-up's link and ignored by the others. */
export const verifyEmailBody = z.strictObject({ token, password: password.optional() });
export const emailOnlyBody = z.strictObject({ email });
export const loginBody = z.strictObject({ email, password });

// Account flows: reset, password and email change, signed-in devices.
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

/** GET /healthz (liveness, no `checks`) and GET /readyz (each dependency that answered). */
export const healthStatus = z.object({
  status: z.literal('ok'),
  checks: z.record(z.string(), z.literal('ok')).optional(),
});

// Token mode: access JWTs for APIs and other services, rotating refresh tokens.
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
/**
 * GET /auth/me: `csrfToken` is null for bearer requests, which need none. `amr`: how the session
 * signed in (RFC 8176: `pwd`, `otp`, `hwk`, `swk`, and `mfa` once a second factor was used);
 * `authenticatedAt`: its last sign-in or re-authentication.
 */
export const meResponse = z.object({
  user,
  csrfToken: z.string().nullable(),
  amr: z.array(z.string()),
  authenticatedAt: z.iso.datetime(),
});
/** PATCH /auth/me: the caller's own profile. */
export const updateMeBody = z.strictObject({ name });
export type TokenPairShape = z.infer<typeof tokenPair>;

// Roles, permissions, the admin API and the audit trail.
export const adminUser = user
  .extend({ disabled: z.boolean(), disabledAt: z.iso.datetime().nullable() })
  .meta({ id: 'AdminUser' });
const flag = z.enum(['true', 'false']).transform((v) => v === 'true');
const pageLimit = z.coerce.number().int().min(1).max(200).default(50);
export const adminUsersQuery = z.strictObject({
  /** Email prefix, case-insensitive. */
  q: z.string().max(254).optional(),
  verified: flag.optional(),
  disabled: flag.optional(),
  role: z.string().max(64).optional(),
  cursor: z.string().max(200).optional(),
  limit: pageLimit,
});
export const adminUsersResponse = z.object({
  users: z.array(adminUser),
  nextCursor: z.string().nullable(),
});
/** Any string: a malformed id is the same 404 as an unknown one. */
export const userIdParams = z.strictObject({ id: z.string() });
const adminSession = deviceSession.omit({ current: true }).meta({ id: 'AdminSession' });
export const adminUserDetail = z.object({ user: adminUser, sessions: z.array(adminSession) });
const roleName = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,63}$/, 'Lower-case letters, digits, _ and -, starting with a letter.');
export const adminUserPatch = z.strictObject({
  disabled: z.boolean().optional(),
  roles: z.array(roleName).max(50).optional(),
  name: z.string().trim().min(1).max(100).nullable().optional(),
});
export const adminUserResponse = z.object({ user: adminUser });
export const role = z
  .object({
    name: z.string(),
    description: z.string(),
    permissions: z.array(z.string()),
    /** `admin`: every permission, cannot be changed. */
    builtIn: z.boolean(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'Role' });
export const rolesResponse = z.object({
  roles: z.array(role),
  permissions: z.array(z.object({ name: z.string(), description: z.string() })),
});
export const createRoleBody = z.strictObject({
  name: roleName,
  description: z.string().trim().max(200).optional(),
  permissions: z.array(z.string().max(64)).max(50),
});
export const roleResponse = z.object({ role });
export const auditEvent = z
  .object({
    id: z.uuid(),
    type: z.string(),
    userId: z.string().nullable(),
    /** The admin who acted, when it was an admin action. */
    actorId: z.string().nullable(),
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    data: z.record(z.string(), z.unknown()),
    createdAt: z.iso.datetime(),
    /** The current address of `userId` / `actorId`; null once the account is deleted. */
    userEmail: z.string().nullable(),
    actorEmail: z.string().nullable(),
  })
  .meta({ id: 'AuditEvent' });
export const auditEventsQuery = z.strictObject({
  userId: z.uuid().optional(),
  /** One type, or a comma list. */
  type: z.string().max(500).optional(),
  from: z.iso.datetime().optional(),
  to: z.iso.datetime().optional(),
  cursor: z.string().max(200).optional(),
  limit: pageLimit,
});
export const auditEventsResponse = z.object({
  events: z.array(auditEvent),
  nextCursor: z.string().nullable(),
});
export const activityQuery = z.strictObject({
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});
export const activityEvent = z
  .object({
    id: z.uuid(),
    type: z.string(),
    createdAt: z.iso.datetime(),
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    device: z.string(),
    /** Done by an administrator rather than by the user. */
    byAdmin: z.boolean(),
  })
  .meta({ id: 'ActivityEvent' });
export const activityResponse = z.object({
  events: z.array(activityEvent),
  nextCursor: z.string().nullable(),
});
export type AdminUserShape = z.infer<typeof adminUser>;
export type AuditEventShape = z.infer<typeof auditEvent>;
export type RoleShape = z.infer<typeof role>;

// Second factors: the authenticator app, recovery codes, passkeys, the second step of sign-in.
export const mfaMethod = z.enum(['totp', 'recovery', 'passkey']);
/** A code from the authenticator app (6 digits) or a recovery code (xxxx-xxxx-xxxx). */
const mfaCode = z.string().trim().min(1, 'Enter the code.').max(64);
const base64url = z.string().max(16_384);
/** What `navigator.credentials.get()` answers, as @simplewebauthn/browser encodes it. */
export const passkeyAssertion = z
  .strictObject({
    id: z.string().min(1).max(1024),
    rawId: z.string().min(1).max(1024),
    type: z.literal('public-key'),
    response: z.looseObject({
      clientDataJSON: base64url,
      authenticatorData: base64url,
      signature: base64url,
      userHandle: base64url.optional(),
    }),
    clientExtensionResults: z.record(z.string(), z.unknown()),
    authenticatorAttachment: z.string().max(32).optional(),
  })
  .meta({ id: 'PasskeyAssertion' });
/** What `navigator.credentials.create()` answers, as @simplewebauthn/browser encodes it. */
export const passkeyAttestation = z
  .strictObject({
    id: z.string().min(1).max(1024),
    rawId: z.string().min(1).max(1024),
    type: z.literal('public-key'),
    response: z.looseObject({
      clientDataJSON: base64url,
      attestationObject: base64url,
      transports: z.array(z.string().max(32)).max(10).optional(),
    }),
    clientExtensionResults: z.record(z.string(), z.unknown()),
    authenticatorAttachment: z.string().max(32).optional(),
  })
  .meta({ id: 'PasskeyAttestation' });
/** WebAuthn creation or request options, passed to @simplewebauthn/browser as they are. */
export const webauthnOptions = z
  .looseObject({ challenge: z.string() })
  .meta({ id: 'WebAuthnOptions' });

const codeStep = z.strictObject({ method: z.enum(['totp', 'recovery']), code: mfaCode });
const passkeyStep = z.strictObject({ method: z.literal('passkey'), response: passkeyAssertion });
/** POST /auth/mfa/verify: a code, a recovery code, or a passkey assertion. */
export const mfaVerifyBody = z.discriminatedUnion('method', [codeStep, passkeyStep]);
/** POST /auth/token/mfa: the same with the `mfaToken` from POST /auth/token. */
export const tokenMfaBody = z.discriminatedUnion('method', [
  codeStep.extend({ mfaToken: token }),
  passkeyStep.extend({ mfaToken: token }),
]);
/** POST /auth/reauthenticate: the password, or a second step. */
export const reauthenticateBody = z.union([z.strictObject({ password }), codeStep, passkeyStep]);
export const mfaCodeBody = z.strictObject({ code: mfaCode });
const passkeyName = z.string().trim().min(1).max(100);
export const addPasskeyBody = z.strictObject({
  response: passkeyAttestation,
  name: passkeyName.optional(),
});
export const renamePasskeyBody = z.strictObject({ name: passkeyName });
export const passkeyLoginBody = z.strictObject({ response: passkeyAssertion });
export const passkey = z
  .object({
    id: z.uuid(),
    name: z.string(),
    createdAt: z.iso.datetime(),
    lastUsedAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'Passkey' });
export const mfaStatus = z
  .object({
    totp: z.object({ enabled: z.boolean(), createdAt: z.iso.datetime() }).nullable(),
    recoveryCodesRemaining: z.number().int(),
    passkeys: z.array(passkey),
    /** The user holds a role of MFA_REQUIRED_ROLES. */
    required: z.boolean(),
  })
  .meta({ id: 'MfaStatus' });
export const totpSetup = z.object({
  /** base32, for typing into the app by hand. */
  secret: z.string(),
  otpauthUrl: z.string(),
  /** The QR code of `otpauthUrl`, as an SVG document. */
  qrSvg: z.string(),
});
/** Shown once: only their keyed hashes are stored. */
export const recoveryCodes = z.object({ recoveryCodes: z.array(z.string()) });
/** A right password for an account with a factor: the second step it needs. */
export const mfaRequired = z
  .object({ mfaRequired: z.literal(true), methods: z.array(mfaMethod) })
  .meta({ id: 'MfaRequired' });
export const tokenMfaRequired = mfaRequired
  .extend({ mfaToken: z.string() })
  .meta({ id: 'TokenMfaRequired' });
export const loginResponse = z.union([sessionResponse, mfaRequired]);
export const tokenResponse = z.union([tokenPair, tokenMfaRequired]);
export const passkeyIdParams = z.strictObject({ id: z.string() });
export type MfaStatusShape = z.infer<typeof mfaStatus>;
export type PasskeyShape = z.infer<typeof passkey>;
export type MfaMethod = z.infer<typeof mfaMethod>;
/** POST /auth/mfa/passkey-options: no body with the pending cookie; `{mfaToken}` in token mode. */
export const passkeyOptionsBody = z.strictObject({ mfaToken: token }).nullish();
