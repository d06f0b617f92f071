import { zodResolver } from '@hookform/resolvers/zod';
import { Link, useNavigate } from 'react-router';
import { LatchkeyError } from '../api.js';
import { useApp } from '../app-context.js';
import { PasswordField } from '../components/PasswordField.js';
import { Button, Field, FormAlert, PageTitle } from '../components/ui.js';
import { type RegisterForm, registerForm } from '../forms.js';
import { useApiForm } from '../hooks/useApiForm.js';
import { usePasswordPolicy } from '../hooks/usePasswordPolicy.js';

export function RegisterPage() {
  const { api, setUser } = useApp();
  const navigate = useNavigate();
  const { policy, refusal } = usePasswordPolicy();
  const form = useApiForm<RegisterForm>({
    form: {
      resolver: zodResolver(registerForm),
      defaultValues: { email: '', password: '', confirm: '', name: '' },
      mode: 'onTouched',
    },
    submit: async (values) => {
      const weak = refusal(values.password, { email: values.email, name: values.name });
      if (weak) {
        form.fieldError('password', weak);
        return false;
      }
      const result = await api.register({
        email: values.email,
        password: values.password,
        ...(values.name.trim() ? { name: values.name.trim() } : {}),
      });
      if ('user' in result) {
        setUser(result.user);
        navigate('/account');
        return;
      }
      navigate('/check-email', { state: { email: values.email.trim() } });
      return false;
    },
    success: 'Welcome! Your account is ready.',
    handleError: (error) => {
      if (error instanceof LatchkeyError && error.code === 'email_taken') {
        form.fieldError('email', 'This address already has an account. Sign in instead.');
        return true;
      }
      return undefined;
    },
  });
  const { register, formState, watch } = form;
  const [email, password, name] = watch(['email', 'password', 'name']);

  return (
    <section className="card">
      <PageTitle>Create your account</PageTitle>
      <form onSubmit={form.onSubmit} noValidate>
        <Field
          label="Email"
          type="email"
          autoComplete="email"
          error={formState.errors.email?.message}
          {...register('email')}
        />
        <Field
          label="Name (optional)"
          type="text"
          autoComplete="name"
          error={formState.errors.name?.message}
          {...register('name')}
        />
        <PasswordField
          label="Password"
          error={formState.errors.password?.message}
          password={password}
          policy={policy}
          email={email}
          displayName={name}
          {...register('password')}
        />
        <Field
          label="Confirm password"
          type="password"
          autoComplete="new-password"
          error={formState.errors.confirm?.message}
          {...register('confirm')}
        />
        <FormAlert message={form.formError} />
        <Button type="submit" loading={form.pending} loadingText="Creating your account…">
          Create account
        </Button>
      </form>
      <p className="aside">
        Already have an account? <Link to="/login">Sign in</Link>
      </p>
    </section>
  );
}
