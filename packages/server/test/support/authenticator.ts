import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { type CBORType, encodeCBOR } from '@levischuck/tiny-cbor';

/**
 * A software WebAuthn authenticator for the server's tests: an ES256 key made with node:crypto,
 * "none" attestation, CBOR as the specification lays it out. It answers real creation and
 * request options, so the tests run the ceremony library for real instead of a mock of it.
 */

const b64 = (bytes: Uint8Array | Buffer) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

export interface Credential {
  id: Buffer;
  privateKey: KeyObject;
  rpId: string;
  /** The user handle the options named (base64url), returned by a discoverable sign-in. */
  userHandle: string;
  signCount: number;
  /** A synced passkey (backup eligible and backed up) rather than a device-bound one. */
  synced: boolean;
}

export interface AuthenticatorOptions {
  origin: string;
  /** Set the user-verified flag (default true). */
  userVerified?: boolean;
  synced?: boolean;
}

function flags(o: AuthenticatorOptions, extra: number): number {
  let f = FLAG_UP | extra;
  if (o.userVerified ?? true) f |= FLAG_UV;
  if (o.synced) f |= FLAG_BE | FLAG_BS;
  return f;
}

function counter(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Answers `navigator.credentials.create()` for the creation options. */
export function createCredential(
  options: { challenge: string; rp: { id: string }; user: { id: string } },
  o: AuthenticatorOptions,
) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const cose = encodeCBOR(
    new Map<number, number | Uint8Array>([
      [1, 2], // kty: EC2
      [3, -7], // alg: ES256
      [-1, 1], // crv: P-256
      [-2, Buffer.from(jwk.x as string, 'base64url')],
      [-3, Buffer.from(jwk.y as string, 'base64url')],
    ]),
  );
  const id = randomBytes(16);
  const idLength = Buffer.alloc(2);
  idLength.writeUInt16BE(id.length);
  const authData = Buffer.concat([
    sha256(options.rp.id),
    Buffer.from([flags(o, FLAG_AT)]),
    counter(0),
    Buffer.alloc(16), // AAGUID: none
    idLength,
    id,
    Buffer.from(cose),
  ]);
  const clientDataJSON = JSON.stringify({
    type: 'webauthn.create',
    challenge: options.challenge,
    origin: o.origin,
    crossOrigin: false,
  });
  const attestationObject = encodeCBOR(
    new Map<string, CBORType>([
      ['fmt', 'none'],
      ['attStmt', new Map<string, CBORType>()],
      ['authData', authData],
    ]),
  );
  const credential: Credential = {
    id,
    privateKey,
    rpId: options.rp.id,
    userHandle: options.user.id,
    signCount: 0,
    synced: o.synced ?? false,
  };
  return {
    credential,
    response: {
      id: b64(id),
      rawId: b64(id),
      type: 'public-key' as const,
      response: {
        clientDataJSON: b64(Buffer.from(clientDataJSON)),
        attestationObject: b64(attestationObject),
        transports: ['internal'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    },
  };
}

/** Answers `navigator.credentials.get()` for the request options with `credential`. */
export function assertCredential(
  credential: Credential,
  options: { challenge: string },
  o: AuthenticatorOptions,
) {
  credential.signCount += 1;
  const authData = Buffer.concat([
    sha256(credential.rpId),
    Buffer.from([flags({ ...o, synced: credential.synced }, 0)]),
    counter(credential.signCount),
  ]);
  const clientDataJSON = Buffer.from(
    JSON.stringify({
      type: 'webauthn.get',
      challenge: options.challenge,
      origin: o.origin,
      crossOrigin: false,
    }),
  );
  const signature = sign(
    'sha256',
    Buffer.concat([authData, sha256(clientDataJSON)]),
    credential.privateKey,
  );
  return {
    id: b64(credential.id),
    rawId: b64(credential.id),
    type: 'public-key' as const,
    response: {
      clientDataJSON: b64(clientDataJSON),
      authenticatorData: b64(authData),
      signature: b64(signature),
      userHandle: credential.userHandle,
    },
    clientExtensionResults: {},
    authenticatorAttachment: 'platform',
  };
}
