import { startAuthentication } from '@simplewebauthn/browser';
import { type FormEvent, useState } from 'react';
import { Link, useLocation, useNavigate, useSearchParams } from 'react-router';
import type { MfaMethod, PasskeyAssertion, User } from '@latchkey/sdk';
import { describeError, LatchkeyError, retryText } from '../api.js';
import { useApp } from '../app-context.js';
import { useToast } from '../components/toast.js';
import { Button, Field, FormAlert, PageTitle } from '../components/ui.js';
import { goToNext } from '../safe-next.js';

type CodeKind = 'totp' | 'recovery';

/**
 * The second step after a right password: a code from the authenticator app, a recovery code,
 * or a passkey. The pending sign-in lives in an HttpOnly cookie for 5 minutes.
 */
export function TwoStepPage() {
  const { api, setUser } = useApp();
  const navigate = useNavigate();
  const location = useLocation();
  const [params] = useSearchParams();
  const toast = useToast();
  const offered = (location.state as { methods?: MfaMethod[] } | null)?.methods ?? [
    'totp',
    'recovery',
    'passkey',
  ];
  const [kind, setKind] = useState<CodeKind>(offered.includes('totp') ? 'totp' : 'recovery');
  const [code, setCode] = useState('');
  const [error, setError] = useState<string>();
  const [pending, setPending] = useState(false);

  const finish = (user: User) => {
    setUser(user);
    toast(`Signed in as ${user.email}.`);
    goToNext(navigate, params.get('next'));
  };

  const explain = (failure: unknown): string => {
    if (failure instanceof LatchkeyError) {
      if (failure.code === 'invalid_code') return 'That code is not right. Check it and try again.';
      if (failure.code === 'mfa_session_expired') {
        return 'This sign-in has expired. Sign in with your password again.';
      }
      if (failure.code === 'rate_limited') {
        return `Too many wrong codes. ${retryText(failure.retryAfterSeconds)}`;
      }
    }
    return describeError(failure);
  };

  const run = async (step: () => Promise<void>) => {
    setPending(true);
    setError(undefined);
    try {
      await step();
    } catch (failure) {
      setError(explain(failure));
    } finally {
      setPending(false);
    }
  };

  const submitCode = (event: FormEvent) => {
    event.preventDefault();
    if (!code.trim()) {
      setError('Enter the code.');
      return;
    }
    void run(async () => {
      const result = await api.mfa.verify({ method: kind, code: code.trim() });
      if ('user' in result) finish(result.user);
    });
  };

  const usePasskey = () =>
    run(async () => {
      const options = await api.mfa.passkeyOptions();
      const response = await startAuthentication({ optionsJSON: options as never });
      const result = await api.mfa.verify({
        method: 'passkey',
        response: response as PasskeyAssertion,
      });
      if ('user' in result) finish(result.user);
    });

  return (
    <section className="card">
      <PageTitle>Two-step sign-in</PageTitle>
      <form onSubmit={submitCode} noValidate>
        {kind === 'totp' ? (
          <Field
            label="Code from your authenticator app"
            name="code"
            autoComplete="one-time-code"
            inputMode="numeric"
            pattern="[0-9 ]*"
            maxLength={8}
            autoFocus
            value={code}
            onChange={(e) => setCode(e.target.value)}
          />
        ) : (
          <Field
            label="Recovery code"
            name="code"
            autoComplete="off"
            hint="One of the codes you saved when you set up two-step sign-in, like abcd-efgh-jkmn. Each works once."
            autoFocus
            value={code}
            onChange={(e) => setCode(e.target.value)}
          />
        )}
        <FormAlert message={error} />
        <Button type="submit" loading={pending} loadingText="Checking…">
          Continue
        </Button>
      </form>
      <p>
        {kind === 'totp' && offered.includes('recovery') ? (
          <Button variant="link" onClick={() => setKind('recovery')}>
            Use a recovery code instead
          </Button>
        ) : null}
        {kind === 'recovery' && offered.includes('totp') ? (
          <Button variant="link" onClick={() => setKind('totp')}>
            Use the authenticator app instead
          </Button>
        ) : null}
      </p>
      {offered.includes('passkey') ? (
        <p>
          <Button variant="secondary" loading={pending} onClick={() => void usePasskey()}>
            Use a passkey
          </Button>
        </p>
      ) : null}
      <p>
        Lost your phone and your codes? <Link to="/login">Start again</Link> or ask an administrator
        to remove your second factors.
      </p>
    </section>
  );
}
