import { zodResolver } from '@hookform/resolvers/zod';
import { useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { startAuthentication } from '@simplewebauthn/browser';
import type { PasskeyAssertion, User } from '@latchkey/sdk';
import { describeError, LatchkeyError, retryText } from '../api.js';
import { useApp } from '../app-context.js';
import { ResendButton } from '../components/ResendButton.js';
import { useToast } from '../components/toast.js';
import { Button, Field, FormAlert, PageTitle } from '../components/ui.js';
import { type LoginForm, loginForm } from '../forms.js';
import { useApiForm } from '../hooks/useApiForm.js';
import { goToNext } from '../safe-next.js';

/** "Sign in with a passkey": a discoverable passkey alone, no email or password typed. */
function PasskeySignIn({ onSignedIn }: { onSignedIn: (user: User) => void }) {
  const { api } = useApp();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const signIn = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const options = await api.passkeys.loginOptions();
      const response = await startAuthentication({ optionsJSON: options as never });
      const { user } = await api.passkeys.login(response as PasskeyAssertion);
      onSignedIn(user);
    } catch (failure) {
      setError(
        failure instanceof LatchkeyError && failure.code === 'invalid_credentials'
          ? 'That passkey did not sign you in. Try another, or use your password.'
          : failure instanceof LatchkeyError
            ? describeError(failure)
            : 'The passkey was not used. Try again, or use your password.',
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="passkey-sign-in">
      <Button variant="secondary" loading={busy} onClick={() => void signIn()}>
        Sign in with a passkey
      </Button>
      <FormAlert message={error} />
    </div>
  );
}

export function LoginPage() {
  const { api, setUser } = useApp();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const toast = useToast();
  const [unverifiedEmail, setUnverifiedEmail] = useState<string>();
  const form = useApiForm<LoginForm>({
    form: { resolver: zodResolver(loginForm), defaultValues: { email: '', password: '' } },
    submit: async (values) => {
      setUnverifiedEmail(undefined);
      const result = await api.login(values);
      if ('mfaRequired' in result) {
        // The password was right; the second step has a page of its own.
        const next = params.get('next');
        navigate(`/two-step${next ? `?next=${encodeURIComponent(next)}` : ''}`, {
          state: { methods: result.methods },
        });
        return;
      }
      const { user } = result;
      setUser(user);
      toast(`Signed in as ${user.email}.`);
      goToNext(navigate, params.get('next'));
    },
    handleError: (error, values, { setFocus }) => {
      if (!(error instanceof LatchkeyError)) return undefined;
      switch (error.code) {
        case 'invalid_credentials':
          setFocus('password');
          return 'The email or password is incorrect.';
        case 'email_not_verified':
          setUnverifiedEmail(values.email.trim());
          return 'Your email address is not confirmed yet. Open the link we sent you, or ask for a new one.';
        case 'rate_limited':
        case 'server_busy':
          return `Too many sign-in attempts. ${retryText(error.retryAfterSeconds)}`;
        default:
          return undefined;
      }
    },
  });
  const { register, formState } = form;

  return (
    <section className="card">
      <PageTitle>Sign in</PageTitle>
      <form onSubmit={form.onSubmit} noValidate>
        <Field
          label="Email"
          type="email"
          autoComplete="username"
          error={formState.errors.email?.message}
          {...register('email')}
        />
        <Field
          label="Password"
          type="password"
          autoComplete="current-password"
          error={formState.errors.password?.message}
          {...register('password')}
        />
        <FormAlert message={form.formError} />
        {unverifiedEmail && form.formError ? (
          <ResendButton email={unverifiedEmail} label="Send a new confirmation link" />
        ) : null}
        <Button type="submit" loading={form.pending} loadingText="Signing in…">
          Sign in
        </Button>
      </form>
      <PasskeySignIn
        onSignedIn={(user) => {
          setUser(user);
          toast(`Signed in as ${user.email}.`);
          goToNext(navigate, params.get('next'));
        }}
      />
      <p className="aside">
        <Link to="/forgot-password">Forgot your password?</Link>
        <br />
        New here? <Link to="/register">Create an account</Link>
      </p>
    </section>
  );
}
