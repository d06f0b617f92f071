import { zodResolver } from '@hookform/resolvers/zod';
import { useState } from 'react';
import { Link } from 'react-router';
import { LatchkeyError } from '../api.js';
import { useApp } from '../app-context.js';
import { PasswordField } from '../components/PasswordField.js';
import { Button, Field, FormAlert, PageTitle } from '../components/ui.js';
import { type ResetForm, resetForm } from '../forms.js';
import { useApiForm } from '../hooks/useApiForm.js';
import { useLinkToken } from '../hooks/useLinkToken.js';
import { usePasswordPolicy } from '../hooks/usePasswordPolicy.js';

const INVALID_LINK = 'This link is invalid, used or expired. Ask for a new one.';

export function ResetPasswordPage() {
  const token = useLinkToken();
  const { api, setUser } = useApp();
  const { policy, refusal } = usePasswordPolicy();
  const [done, setDone] = useState(false);
  const [tokenInvalid, setTokenInvalid] = useState(false);
  const form = useApiForm<ResetForm>({
    form: { resolver: zodResolver(resetForm), defaultValues: { password: '', confirm: '' } },
    submit: async (values) => {
      if (!token) return false;
      const weak = refusal(values.password);
      if (weak) {
        form.fieldError('password', weak);
        return false;
      }
      await api.resetPassword({ token, password: values.password });
      setDone(true);
      setUser(null); // every session, this browser's too, was signed out
    },
    success: 'Password changed.',
    handleError: (error) => {
      if (error instanceof LatchkeyError && error.code === 'invalid_token') {
        setTokenInvalid(true);
        return INVALID_LINK;
      }
      return undefined;
    },
  });
  const { register, formState, watch } = form;
  const password = watch('password');

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
        <form onSubmit={form.onSubmit} noValidate>
          <p>Saving it signs you out on every device.</p>
          <input type="text" name="username" autoComplete="username" hidden readOnly />
          <PasswordField
            label="New password"
            error={formState.errors.password?.message}
            password={password}
            policy={policy}
            {...register('password')}
          />
          <Field
            label="Confirm new password"
            type="password"
            autoComplete="new-password"
            error={formState.errors.confirm?.message}
            {...register('confirm')}
          />
          <FormAlert message={form.formError} />
          {tokenInvalid ? <Link to="/forgot-password">Ask for a new link</Link> : null}
          <Button
            type="submit"
            loading={form.pending}
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
