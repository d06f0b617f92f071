import * as s from '@latchkey/contract';
import type { SignedInCall } from './admin.js';
import type {
  MfaStatus,
  Passkey,
  PasskeyAssertion,
  PasskeyAttestation,
  ReauthenticateInput,
  SecondStepInput,
  TotpSetup,
  TokenPair,
  User,
  WebAuthnOptions,
} from './types.js';

/** What the second factors need of the client: its calls and where a finished sign-in goes. */
export interface MfaHost {
  /** A request with the signed-in user's credentials (cookie + CSRF, or bearer). */
  signedIn: SignedInCall;
  /** A request without credentials (the pending sign-in travels in its own cookie or body). */
  anonymous: SignedInCall;
  mode: 'cookie' | 'token';
  /** Token mode: the `mfaToken` of the last POST /auth/token that asked for a second step. */
  pendingToken(): string | undefined;
  /** A finished cookie sign-in: keep its CSRF token. */
  signedInWithCookie(csrfToken: string): void;
  /** A finished token sign-in: keep the pair. */
  signedInWithTokens(pair: TokenPair): Promise<void>;
}

/**
 * Second factors, as `client.mfa`: the signed-in user's authenticator app and recovery codes,
 * re-authentication, and finishing a sign-in that answered `{ mfaRequired: true, methods }`.
 * Adding or removing a factor and new recovery codes need a recent sign-in: otherwise 403
 * `reauthentication_required`, and `reauthenticate()` first.
 */
export class LatchkeyMfa {
  constructor(private readonly host: MfaHost) {}

  /** GET /auth/mfa: the app, the recovery codes left, the passkeys, whether a role requires one. */
  status(): Promise<MfaStatus> {
    return this.host.signedIn('GET', '/auth/mfa', { schema: s.mfaStatus });
  }

  /** The secret, its otpauth:// URI and QR code (SVG); active once `confirmTotp` succeeds. */
  setupTotp(): Promise<TotpSetup> {
    return this.host.signedIn('POST', '/auth/mfa/totp/setup', { schema: s.totpSetup });
  }

  /** Activates the app; the first factor of the account also gets 10 recovery codes (else []). */
  async confirmTotp(code: string): Promise<string[]> {
    const { recoveryCodes } = await this.host.signedIn('POST', '/auth/mfa/totp/confirm', {
      body: { code },
      schema: s.recoveryCodes,
    });
    return recoveryCodes;
  }

  removeTotp(): Promise<void> {
    return this.host.signedIn('DELETE', '/auth/mfa/totp', { schema: null });
  }

  /** A new set of 10 recovery codes; the old set stops working. */
  async regenerateRecoveryCodes(): Promise<string[]> {
    const { recoveryCodes } = await this.host.signedIn('POST', '/auth/mfa/recovery-codes', {
      schema: s.recoveryCodes,
    });
    return recoveryCodes;
  }

  /** Refreshes the session's authentication time with the password, a code or a passkey. */
  reauthenticate(input: ReauthenticateInput): Promise<void> {
    return this.host.signedIn('POST', '/auth/reauthenticate', { body: input, schema: null });
  }

  /** WebAuthn request options for the pending sign-in's passkeys (@simplewebauthn/browser). */
  passkeyOptions(): Promise<WebAuthnOptions> {
    const mfaToken = this.host.mode === 'token' ? this.host.pendingToken() : undefined;
    return this.host.anonymous('POST', '/auth/mfa/passkey-options', {
      ...(mfaToken ? { body: { mfaToken } } : {}),
      schema: s.webauthnOptions,
    });
  }

  /**
   * The second step of a sign-in: a code, a recovery code or a passkey assertion. Cookie mode
   * finishes at POST /auth/mfa/verify (the pending cookie), token mode at /auth/token/mfa.
   */
  async verify(input: SecondStepInput): Promise<{ user: User } | { tokens: TokenPair }> {
    if (this.host.mode === 'token') {
      const mfaToken = this.host.pendingToken();
      const pair = await this.host.anonymous('POST', '/auth/token/mfa', {
        body: { ...input, mfaToken },
        schema: s.tokenPair,
      });
      await this.host.signedInWithTokens(pair);
      return { tokens: pair };
    }
    const result = await this.host.anonymous('POST', '/auth/mfa/verify', {
      body: input,
      schema: s.sessionResponse,
    });
    this.host.signedInWithCookie(result.csrfToken);
    return { user: result.user };
  }
}

/**
 * Passkeys, as `client.passkeys`: register, rename and remove the signed-in user's, and
 * "Sign in with a passkey" (cookie mode). Hand the options to @simplewebauthn/browser
 * (`startRegistration` / `startAuthentication`) and its answer back here.
 */
export class LatchkeyPasskeys {
  constructor(private readonly host: MfaHost) {}

  registrationOptions(): Promise<WebAuthnOptions> {
    return this.host.signedIn('POST', '/auth/passkeys/registration-options', {
      schema: s.webauthnOptions,
    });
  }

  add(response: PasskeyAttestation, name?: string): Promise<Passkey> {
    return this.host.signedIn('POST', '/auth/passkeys', {
      body: { response, ...(name ? { name } : {}) },
      schema: s.passkey,
    });
  }

  rename(id: string, name: string): Promise<Passkey> {
    return this.host.signedIn('PATCH', `/auth/passkeys/${encodeURIComponent(id)}`, {
      body: { name },
      schema: s.passkey,
    });
  }

  remove(id: string): Promise<void> {
    return this.host.signedIn('DELETE', `/auth/passkeys/${encodeURIComponent(id)}`, {
      schema: null,
    });
  }

  /** Options for a discoverable passkey (sign-in, or re-authentication with a passkey). */
  loginOptions(): Promise<WebAuthnOptions> {
    return this.host.anonymous('POST', '/auth/passkeys/login-options', {
      schema: s.webauthnOptions,
    });
  }

  /** Signs in with a passkey alone (cookie mode); one `invalid_credentials` for every failure. */
  async login(response: PasskeyAssertion): Promise<{ user: User }> {
    const result = await this.host.anonymous('POST', '/auth/passkeys/login', {
      body: { response },
      schema: s.sessionResponse,
    });
    this.host.signedInWithCookie(result.csrfToken);
    return { user: result.user };
  }
}
