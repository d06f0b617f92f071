import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

// Loaded at the first passkey ceremony, not at start: it costs about 3.5 MB of heap and a
// second or two of start-up, and most instances see few passkeys.
const simpleWebAuthn = () => import('@simplewebauthn/server');

/**
 * The WebAuthn ceremonies, with the relying party fixed from PUBLIC_URL: RP ID = its host name,
 * origin = its origin. User verification is always required, so a passkey is a second factor
 * on its own (something held, unlocked by something known or something one is).
 */
export interface RelyingParty {
  id: string;
  origin: string;
  name: string;
}

export type { AuthenticationResponseJSON, RegistrationResponseJSON };

const TIMEOUT_MS = 5 * 60_000;

/**
 * Creation or request options as JSON, handed to the browser library unchanged; typed as the
 * open object the API's schema declares (only `challenge` is read here).
 */
export type OptionsJSON = { challenge: string } & Record<string, unknown>;

const asJSON = (
  options: PublicKeyCredentialCreationOptionsJSON | PublicKeyCredentialRequestOptionsJSON,
): OptionsJSON => options as unknown as OptionsJSON;

/** Ours are base64url; anything else (a NUL, any length) is no challenge of ours. */
const CHALLENGE = /^[A-Za-z0-9_-]{16,512}$/;

/** The challenge a client echoes in its clientDataJSON; undefined when unreadable or not one of ours. */
export function challengeOf(response: {
  response: { clientDataJSON: string };
}): string | undefined {
  try {
    const data = JSON.parse(Buffer.from(response.response.clientDataJSON, 'base64url').toString());
    const challenge: unknown = data?.challenge;
    return typeof challenge === 'string' && CHALLENGE.test(challenge) ? challenge : undefined;
  } catch {
    return undefined;
  }
}

export async function registrationOptions(
  rp: RelyingParty,
  user: { id: string; email: string; name: string | null },
  exclude: { credentialId: string; transports: string[] }[],
): Promise<OptionsJSON> {
  const { generateRegistrationOptions } = await simpleWebAuthn();
  const options = await generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userName: user.email,
    userDisplayName: user.name ?? user.email,
    // The user handle a discoverable sign-in returns: the account id, nothing personal.
    userID: new TextEncoder().encode(user.id),
    timeout: TIMEOUT_MS,
    attestationType: 'none',
    excludeCredentials: exclude.map((c) => ({ id: c.credentialId, transports: c.transports })),
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
  });
  return asJSON(options);
}

export interface RegisteredCredential {
  credentialId: string;
  publicKey: string;
  counter: number;
  transports: string[];
  deviceType: string;
  backedUp: boolean;
}

/** The new credential, or undefined when the response does not check out. */
export async function verifyRegistration(
  rp: RelyingParty,
  response: RegistrationResponseJSON,
  challenge: string,
): Promise<RegisteredCredential | undefined> {
  const { verifyRegistrationResponse } = await simpleWebAuthn();
  try {
    const result = await verifyRegistrationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      requireUserVerification: true,
    });
    if (!result.verified) return undefined;
    const info = result.registrationInfo;
    return {
      credentialId: info.credential.id,
      publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
      counter: info.credential.counter,
      transports: info.credential.transports ?? [],
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
    };
  } catch {
    // Malformed or forged responses throw: to the caller they are simply not verified.
    return undefined;
  }
}

export async function authenticationOptions(
  rp: RelyingParty,
  allow: { credentialId: string; transports: string[] }[] | undefined,
): Promise<OptionsJSON> {
  const { generateAuthenticationOptions } = await simpleWebAuthn();
  const options = await generateAuthenticationOptions({
    rpID: rp.id,
    timeout: TIMEOUT_MS,
    userVerification: 'required',
    ...(allow
      ? { allowCredentials: allow.map((c) => ({ id: c.credentialId, transports: c.transports })) }
      : {}),
  });
  return asJSON(options);
}

/** The assertion's new signature counter, or undefined when it does not check out. */
export async function verifyAssertion(
  rp: RelyingParty,
  response: AuthenticationResponseJSON,
  challenge: string,
  credential: { credentialId: string; publicKey: string; counter: number; transports: string[] },
): Promise<{ newCounter: number } | undefined> {
  const { verifyAuthenticationResponse } = await simpleWebAuthn();
  try {
    const result = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      requireUserVerification: true,
      credential: {
        id: credential.credentialId,
        publicKey: new Uint8Array(Buffer.from(credential.publicKey, 'base64url')),
        counter: credential.counter,
        transports: credential.transports as never,
      },
    });
    return result.verified ? { newCounter: result.authenticationInfo.newCounter } : undefined;
  } catch {
    return undefined;
  }
}
