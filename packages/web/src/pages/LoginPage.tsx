import { zodResolver } from '@hookform/resolvers/zod';
import { useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { LatchkeyError, retryText } from '../api.js';
import { useApp } from '../app-context.js';
import { ResendButton } from '../components/ResendButton.js';
import { useToast } from '../components/toast.js';
import { Button, Field, FormAlert, PageTitle } from '../components/ui.js';
import { type LoginForm, loginForm } from '../forms.js';
import { useApiForm } from '../hooks/useApiForm.js';
import { isOwnPage, safeNext } from '../safe-next.js';

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
      const { user } = await api.login(values);
      setUser(user);
      toast(`Signed in as ${user.email}.`);
      const next = safeNext(params.get('next'));
      if (isOwnPage(next)) navigate(next, { replace: true });
      else window.location.replace(next);
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
      <p className="aside">
        <Link to="/forgot-password">Forgot your password?</Link>
        <br />
        New here? <Link to="/register">Create an account</Link>
      </p>
    </section>
  );
}
