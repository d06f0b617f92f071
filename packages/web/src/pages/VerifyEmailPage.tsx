import { type FormEvent, useState } from 'react';
import { Link } from 'react-router';
import { describeError, LatchkeyError } from '../api.js';
import { useApp } from '../app-context.js';
import { useToast } from '../components/toast.js';
import { Button, Field, FormAlert, PageTitle } from '../components/ui.js';
import { useLinkToken } from '../hooks/useLinkToken.js';

/**
 * The mailed confirmation link: opening it changes nothing (link scanners open links too); the
 * button POSTs the token.
 */
export function VerifyEmailPage() {
  const token = useLinkToken();
  const { api, user, refreshUser } = useApp();
  const toast = useToast();
  const [state, setState] = useState<'idle' | 'busy' | 'done' | 'failed'>('idle');
  const [message, setMessage] = useState<string>();
  const [confirmedEmail, setConfirmedEmail] = useState<string>();
  // A sign-up's link also needs the password chosen at sign-up (the server says so when asked):
  // every sign-up for an address mails the same-looking link, and the password picks whose.
  const [askPassword, setAskPassword] = useState(false);
  const [password, setPassword] = useState('');
  const [passwordError, setPasswordError] = useState<string>();
  const [mismatch, setMismatch] = useState(false);

  const confirm = async (event?: FormEvent) => {
    event?.preventDefault();
    if (!token) return;
    if (askPassword && password === '') {
      setPasswordError('Enter your password.');
      return;
    }
    setState('busy');
    setMessage(undefined);
    setPasswordError(undefined);
    setMismatch(false);
    try {
      const { user: confirmed } = await api.verifyEmail(
        askPassword ? { token, password } : { token },
      );
      setConfirmedEmail(confirmed.email);
      setState('done');
      toast('Email address confirmed.');
      if (user) await refreshUser();
    } catch (error) {
      if (error instanceof LatchkeyError && error.code === 'password_required') {
        setAskPassword(true);
        setState('idle');
        return;
      }
      if (error instanceof LatchkeyError && error.code === 'password_mismatch') {
        setPasswordError(error.message);
        setMismatch(true);
        setState('idle');
        return;
      }
      setState('failed');
      setMessage(
        error instanceof LatchkeyError && error.code === 'invalid_token'
          ? 'This link is invalid, used or expired. Ask for a new one.'
          : describeError(error),
      );
    }
  };

  return (
    <section className="card">
      <PageTitle>Confirm your email address</PageTitle>
      {!token ? (
        <>
          <FormAlert message="This link has no token. Open the link from the mail again, or ask for a new one." />
          <Link to="/resend-verification">Send a new link</Link>
        </>
      ) : state === 'done' ? (
        <>
          <FormAlert
            kind="success"
            message={`Your email address ${confirmedEmail ?? ''} is confirmed.`}
          />
          {user ? <Link to="/account">Go to your account</Link> : <Link to="/login">Sign in</Link>}
        </>
      ) : (
        <form onSubmit={confirm} noValidate>
          <p>Press the button to confirm that this address is yours.</p>
          {askPassword ? (
            <Field
              label="Password"
              type="password"
              autoComplete="current-password"
              autoFocus
              hint="Enter the password you chose when you signed up"
              error={passwordError}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          ) : null}
          <Button type="submit" loading={state === 'busy'} loadingText="Confirming…">
            Confirm my email address
          </Button>
          <FormAlert message={message} />
          {mismatch ? <Link to="/forgot-password">Forgot password</Link> : null}
          {state === 'failed' ? <Link to="/resend-verification">Send a new link</Link> : null}
        </form>
      )}
    </section>
  );
}
