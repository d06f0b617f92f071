import { zodResolver } from '@hookform/resolvers/zod';
import { type FormEvent, useEffect, useState } from 'react';
import { useForm } from 'react-hook-form';
import { Link, useLocation, useNavigate, useSearchParams } from 'react-router';
import { describeError, fieldErrors, LatchkeyError, retryText } from '../api.js';
import { useApp } from '../app-context.js';
import { StrengthMeter } from '../components/StrengthMeter.js';
import { useToast } from '../components/toast.js';
import { Button, Field, FormAlert, PageTitle } from '../components/ui.js';
import {
  type EmailForm,
  emailForm,
  type LoginForm,
  loginForm,
  type RegisterForm,
  registerForm,
  type ResetForm,
  resetForm,
} from '../forms.js';
import { checkPassword } from '../password-strength.js';
import { safeNext } from '../safe-next.js';

/** Reads ?token= once, then removes it from the address bar, history and any Referer. */
function useLinkToken(): string | null {
  const [token] = useState(() => new URLSearchParams(window.location.search).get('token'));
  useEffect(() => {
    if (new URLSearchParams(window.location.search).has('token')) {
      window.history.replaceState(window.history.state, '', window.location.pathname);
    }
  }, []);
  return token;
}

// ---------------------------------------------------------------------------------------------

export function RegisterPage() {
  const { api, config, setUser } = useApp();
  const navigate = useNavigate();
  const toast = useToast();
  const [formError, setFormError] = useState<string>();
  const {
    register,
    handleSubmit,
    watch,
    setError,
    formState: { errors, isSubmitting },
  } = useForm<RegisterForm>({
    resolver: zodResolver(registerForm),
    defaultValues: { email: '', password: '', confirm: '', name: '' },
    mode: 'onTouched',
  });
  const policy = { ...config.password, serviceName: config.serviceName };
  const [email, password, name] = watch(['email', 'password', 'name']);

  const onSubmit = handleSubmit(async (values) => {
    setFormError(undefined);
    const verdict = checkPassword(values.password, policy, {
      email: values.email,
      name: values.name,
    });
    if (!verdict.ok) {
      setError(
        'password',
        { message: verdict.message ?? 'Choose a stronger password.' },
        { shouldFocus: true },
      );
      return;
    }
    try {
      const result = await api.register({
        email: values.email,
        password: values.password,
        ...(values.name.trim() ? { name: values.name.trim() } : {}),
      });
      if ('user' in result) {
        setUser(result.user);
        toast('Welcome! Your account is ready.');
        navigate('/account');
      } else {
        navigate('/check-email', { state: { email: values.email.trim() } });
      }
    } catch (error) {
      const fields = fieldErrors(error);
      let focused = false;
      for (const field of ['email', 'password', 'name'] as const) {
        if (fields[field]) {
          setError(field, { message: fields[field] }, { shouldFocus: !focused });
          focused = true;
        }
      }
      if (error instanceof LatchkeyError && error.code === 'email_taken') {
        setError(
          'email',
          { message: 'This address already has an account. Sign in instead.' },
          { shouldFocus: true },
        );
      } else if (!focused) setFormError(describeError(error));
    }
  });

  return (
    <section className="card">
      <PageTitle>Create your account</PageTitle>
      <form onSubmit={onSubmit} noValidate>
        <Field
          label="Email"
          type="email"
          autoComplete="email"
          error={errors.email?.message}
          {...register('email')}
        />
        <Field
          label="Name (optional)"
          type="text"
          autoComplete="name"
          error={errors.name?.message}
          {...register('name')}
        />
        <Field
          label="Password"
          type="password"
          autoComplete="new-password"
          error={errors.password?.message}
          hint={<StrengthMeter password={password} policy={policy} email={email} name={name} />}
          {...register('password')}
        />
        <Field
          label="Confirm password"
          type="password"
          autoComplete="new-password"
          error={errors.confirm?.message}
          {...register('confirm')}
        />
        <FormAlert message={formError} />
        <Button type="submit" loading={isSubmitting} loadingText="Creating your account…">
          Create account
        </Button>
      </form>
      <p className="aside">
        Already have an account? <Link to="/login">Sign in</Link>
      </p>
    </section>
  );
}

// ---------------------------------------------------------------------------------------------

/** "Send the link again", for check-your-mail, sign-in (unverified) and the resend page. */
function ResendButton({ email, label = 'Send the link again' }: { email: string; label?: string }) {
  const { api } = useApp();
  const toast = useToast();
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string>();
  return (
    <>
      <Button
        variant="secondary"
        loading={busy}
        loadingText="Sending…"
        onClick={async () => {
          setBusy(true);
          try {
            await api.resendVerification({ email });
            setMessage(
              `If ${email} has an account waiting for confirmation, a new link is on its way.`,
            );
            toast('Verification link sent.');
          } catch (error) {
            setMessage(describeError(error));
          } finally {
            setBusy(false);
          }
        }}
      >
        {label}
      </Button>
      <FormAlert kind="info" message={message} />
    </>
  );
}

export function CheckEmailPage() {
  const location = useLocation();
  const email = (location.state as { email?: string } | null)?.email;
  return (
    <section className="card">
      <PageTitle>Check your mail</PageTitle>
      <p>
        We sent a confirmation link to {email ? <strong>{email}</strong> : 'your address'}. Open it
        to finish creating your account; the mail says how long its link works.
      </p>
      <p className="hint">
        Nothing after a few minutes? Look in your spam folder, or ask for a new link.
      </p>
      {email ? (
        <ResendButton email={email} />
      ) : (
        <Link to="/resend-verification">Send a new link</Link>
      )}
      <p className="aside">
        <Link to="/login">Back to sign in</Link>
      </p>
    </section>
  );
}

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

export function ResendVerificationPage() {
  const { api } = useApp();
  const [sent, setSent] = useState<string>();
  const [formError, setFormError] = useState<string>();
  const {
    register,
    handleSubmit,
    formState: { errors, isSubmitting },
  } = useForm<EmailForm>({ resolver: zodResolver(emailForm), defaultValues: { email: '' } });
  const onSubmit = handleSubmit(async ({ email }) => {
    setFormError(undefined);
    try {
      const { message } = await api.resendVerification({ email });
      setSent(message);
    } catch (error) {
      setFormError(describeError(error));
    }
  });
  return (
    <section className="card">
      <PageTitle>Send a new confirmation link</PageTitle>
      <form onSubmit={onSubmit} noValidate>
        <Field
          label="Email"
          type="email"
          autoComplete="email"
          error={errors.email?.message}
          {...register('email')}
        />
        <FormAlert message={formError} />
        <FormAlert kind="success" message={sent} />
        <Button type="submit" loading={isSubmitting} loadingText="Sending…">
          Send the link
        </Button>
      </form>
      <p className="aside">
        <Link to="/login">Back to sign in</Link>
      </p>
    </section>
  );
}

// ---------------------------------------------------------------------------------------------

export function LoginPage() {
  const { api, setUser } = useApp();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const toast = useToast();
  const [problem, setProblem] = useState<{ message: string; unverifiedEmail?: string }>();
  const {
    register,
    handleSubmit,
    setFocus,
    formState: { errors, isSubmitting },
  } = useForm<LoginForm>({
    resolver: zodResolver(loginForm),
    defaultValues: { email: '', password: '' },
  });

  const onSubmit = handleSubmit(async (values) => {
    setProblem(undefined);
    try {
      const { user } = await api.login(values);
      setUser(user);
      toast(`Signed in as ${user.email}.`);
      navigate(safeNext(params.get('next')), { replace: true });
    } catch (error) {
      if (error instanceof LatchkeyError && error.code === 'invalid_credentials') {
        setProblem({ message: 'The email or password is incorrect.' });
        setFocus('password');
      } else if (error instanceof LatchkeyError && error.code === 'email_not_verified') {
        setProblem({
          message:
            'Your email address is not confirmed yet. Open the link we sent you, or ask for a new one.',
          unverifiedEmail: values.email.trim(),
        });
      } else if (
        error instanceof LatchkeyError &&
        (error.code === 'rate_limited' || error.code === 'server_busy')
      ) {
        setProblem({
          message: `Too many sign-in attempts. ${retryText(error.retryAfterSeconds)}`,
        });
      } else {
        setProblem({ message: describeError(error) });
      }
    }
  });

  return (
    <section className="card">
      <PageTitle>Sign in</PageTitle>
      <form onSubmit={onSubmit} noValidate>
        <Field
          label="Email"
          type="email"
          autoComplete="username"
          error={errors.email?.message}
          {...register('email')}
        />
        <Field
          label="Password"
          type="password"
          autoComplete="current-password"
          error={errors.password?.message}
          {...register('password')}
        />
        <FormAlert message={problem?.message} />
        {problem?.unverifiedEmail ? (
          <ResendButton email={problem.unverifiedEmail} label="Send a new confirmation link" />
        ) : null}
        <Button type="submit" loading={isSubmitting} loadingText="Signing in…">
          Sign in
        </Button>
      </form>
      <p className="aside">
        <Link to="/forgot-password">Forgot your password?</Link>
        <br />
        New here? <Link to="/register">Create an account</Link>
      </p>
    </section>
  );
}

// ---------------------------------------------------------------------------------------------

export function ForgotPasswordPage() {
  const { api } = useApp();
  const [sent, setSent] = useState<string>();
  const [formError, setFormError] = useState<string>();
  const {
    register,
    handleSubmit,
    formState: { errors, isSubmitting },
  } = useForm<EmailForm>({ resolver: zodResolver(emailForm), defaultValues: { email: '' } });
  const onSubmit = handleSubmit(async ({ email }) => {
    setFormError(undefined);
    try {
      const { message } = await api.forgotPassword({ email });
      setSent(message);
    } catch (error) {
      setFormError(describeError(error));
    }
  });
  return (
    <section className="card">
      <PageTitle>Forgot your password?</PageTitle>
      <p>Enter your email address and we will send you a link to choose a new password.</p>
      <form onSubmit={onSubmit} noValidate>
        <Field
          label="Email"
          type="email"
          autoComplete="email"
          error={errors.email?.message}
          {...register('email')}
        />
        <FormAlert message={formError} />
        <FormAlert kind="success" message={sent} />
        <Button type="submit" loading={isSubmitting} loadingText="Sending…">
          Send the link
        </Button>
      </form>
      <p className="aside">
        <Link to="/login">Back to sign in</Link>
      </p>
    </section>
  );
}

export function ResetPasswordPage() {
  const token = useLinkToken();
  const { api, config, setUser } = useApp();
  const toast = useToast();
  const [done, setDone] = useState(false);
  const [formError, setFormError] = useState<string>();
  const [tokenInvalid, setTokenInvalid] = useState(false);
  const {
    register,
    handleSubmit,
    watch,
    setError,
    formState: { errors, isSubmitting },
  } = useForm<ResetForm>({
    resolver: zodResolver(resetForm),
    defaultValues: { password: '', confirm: '' },
  });
  const policy = { ...config.password, serviceName: config.serviceName };
  const password = watch('password');

  const onSubmit = handleSubmit(async (values) => {
    if (!token) return;
    setFormError(undefined);
    const verdict = checkPassword(values.password, policy);
    if (!verdict.ok) {
      setError(
        'password',
        { message: verdict.message ?? 'Choose a stronger password.' },
        { shouldFocus: true },
      );
      return;
    }
    try {
      await api.resetPassword({ token, password: values.password });
      setDone(true);
      setUser(null); // every session, this browser's too, was signed out
      toast('Password changed.');
    } catch (error) {
      const fields = fieldErrors(error);
      if (fields.password)
        setError('password', { message: fields.password }, { shouldFocus: true });
      else if (error instanceof LatchkeyError && error.code === 'invalid_token') {
        setTokenInvalid(true);
        setFormError('This link is invalid, used or expired. Ask for a new one.');
      } else setFormError(describeError(error));
    }
  });

  return (
    <section className="card">
      <PageTitle>Choose a new password</PageTitle>
      {!token ? (
        <>
          <FormAlert message="This link has no token. Open the link from the mail again, or ask for a new one." />
          <Link to="/forgot-password">Ask for a new link</Link>
        </>
      ) : done ? (
        <>
          <FormAlert
            kind="success"
            message="Your password is changed and every device was signed out. Sign in with the new password."
          />
          <Link to="/login">Sign in</Link>
        </>
      ) : (
        <form onSubmit={onSubmit} noValidate>
          <p>Saving it signs you out on every device.</p>
          <input type="text" name="username" autoComplete="username" hidden readOnly />
          <Field
            label="New password"
            type="password"
            autoComplete="new-password"
            error={errors.password?.message}
            hint={<StrengthMeter password={password} policy={policy} />}
            {...register('password')}
          />
          <Field
            label="Confirm new password"
            type="password"
            autoComplete="new-password"
            error={errors.confirm?.message}
            {...register('confirm')}
          />
          <FormAlert message={formError} />
          {tokenInvalid ? <Link to="/forgot-password">Ask for a new link</Link> : null}
          <Button
            type="submit"
            loading={isSubmitting}
            loadingText="Saving…"
            disabled={tokenInvalid}
          >
            Save the new password
          </Button>
        </form>
      )}
    </section>
  );
}
