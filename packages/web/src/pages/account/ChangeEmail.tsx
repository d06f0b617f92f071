import { zodResolver } from '@hookform/resolvers/zod';
import { useState } from 'react';
import { LatchkeyError } from '../../api.js';
import { useApp } from '../../app-context.js';
import { Button, Field, FormAlert } from '../../components/ui.js';
import { type ChangeEmailForm, changeEmailForm } from '../../forms.js';
import { useApiForm } from '../../hooks/useApiForm.js';

export function ChangeEmail() {
  const { api } = useApp();
  const [sent, setSent] = useState<string>();
  const form = useApiForm<ChangeEmailForm>({
    form: { resolver: zodResolver(changeEmailForm), defaultValues: { newEmail: '', password: '' } },
    signedIn: true,
    submit: async (values, { reset }) => {
      setSent(undefined);
      await api.changeEmail(values);
      reset();
      setSent(
        `We sent a link to ${values.newEmail.trim()}. Your address changes when you open it.`,
      );
    },
    success: 'Confirmation link sent to the new address.',
    handleError: (error) => {
      if (error instanceof LatchkeyError && error.code === 'invalid_credentials') {
        form.fieldError('password', 'This is not your current password.');
        return true;
      }
      return undefined;
    },
  });
  const { register, formState } = form;
  return (
    <section className="card" aria-labelledby="email-title">
      <h2 id="email-title">Change email address</h2>
      <form onSubmit={form.onSubmit} noValidate>
        <Field
          label="New email address"
          type="email"
          autoComplete="email"
          error={formState.errors.newEmail?.message}
          {...register('newEmail')}
        />
        <Field
          label="Current password"
          type="password"
          autoComplete="current-password"
          error={formState.errors.password?.message}
          {...register('password')}
        />
        <FormAlert message={form.formError} />
        <FormAlert kind="success" message={sent} />
        <Button type="submit" loading={form.pending} loadingText="Sending…">
          Send confirmation link
        </Button>
      </form>
    </section>
  );
}
