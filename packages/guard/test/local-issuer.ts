import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { base64url, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';

type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
type Claims = JWTPayload & { sub: string; sid?: string; roles?: string[]; amr?: string[] };

/**
 * Access tokens shaped like Latchkey's (EdDSA, `at+jwt`, iss/aud/sub/sid/roles), signed by the
 * test with its own key and published at a local JWKS URL: tokens with any `amr`, expired ones,
 * ones signed by a key the JWKS does not hold.
 */
export class LocalIssuer {
  private constructor(
    private readonly claims: { issuer: string; audience: string },
    private readonly key: SigningKey,
    private readonly foreignKey: SigningKey,
    private readonly kid: string,
    private readonly server: Server,
    readonly jwksUrl: string,
  ) {}

  static async start(claims: { issuer: string; audience: string }): Promise<LocalIssuer> {
    const kid = randomUUID();
    const own = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const foreign = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const jwks = JSON.stringify({
      keys: [{ ...(await exportJWK(own.publicKey)), kid, alg: 'EdDSA', use: 'sig' }],
    });
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return new LocalIssuer(
      claims,
      own.privateKey,
      foreign.privateKey,
      kid,
      server,
      `http://127.0.0.1:${port}/.well-known/jwks.json`,
    );
  }

  private payload({ sub, iat, exp, ...rest }: Claims): JWTPayload {
    const now = Math.floor(Date.now() / 1000);
    return {
      iss: this.claims.issuer,
      aud: this.claims.audience,
      sub,
      sid: randomUUID(),
      roles: [],
      amr: ['pwd'],
      iat: iat ?? now,
      exp: exp ?? now + 600,
      ...rest,
    };
  }

  /** A token the guard must accept (unless its claims say otherwise). */
  sign(claims: Claims): Promise<string> {
    return this.signWith(this.key, claims);
  }

  /** Same kid, same shape, another key: the signature cannot verify. */
  signWithForeignKey(claims: Claims): Promise<string> {
    return this.signWith(this.foreignKey, claims);
  }

  /** `alg: none`: no signature at all. */
  unsigned(claims: Claims): string {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: this.kid }));
    return `${header}.${base64url.encode(JSON.stringify(this.payload(claims)))}.`;
  }

  private signWith(key: SigningKey, claims: Claims): Promise<string> {
    return new SignJWT(this.payload(claims))
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: this.kid })
      .sign(key);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
