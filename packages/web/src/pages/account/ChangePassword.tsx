import { zodResolver } from '@hookform/resolvers/zod';
import { LatchkeyError } from '../../api.js';
import { useApp } from '../../app-context.js';
import { PasswordField } from '../../components/PasswordField.js';
import { Button, Field, FormAlert } from '../../components/ui.js';
import { type ChangePasswordForm, changePasswordForm } from '../../forms.js';
import { useApiForm } from '../../hooks/useApiForm.js';
import { usePasswordPolicy } from '../../hooks/usePasswordPolicy.js';

export function ChangePassword({ onChanged }: { onChanged: () => void }) {
  const { api, user } = useApp();
  const { policy, refusal } = usePasswordPolicy();
  const context = { email: user?.email ?? '', name: user?.name ?? '' };
  const form = useApiForm<ChangePasswordForm>({
    form: {
      resolver: zodResolver(changePasswordForm),
      defaultValues: { currentPassword: '', newPassword: '', confirm: '' },
    },
    signedIn: true,
    submit: async (values, { reset }) => {
      const weak = refusal(values.newPassword, context);
      if (weak) {
        form.fieldError('newPassword', weak);
        return false;
      }
      await api.changePassword({
        currentPassword: values.currentPassword,
        newPassword: values.newPassword,
      });
      reset();
      onChanged();
    },
    success: 'Password changed. Your other devices were signed out.',
    handleError: (error) => {
      if (error instanceof LatchkeyError && error.code === 'invalid_credentials') {
        form.fieldError('currentPassword', 'This is not your current password.');
        return true;
      }
      return undefined;
    },
  });
  const { register, formState, watch } = form;
  const newPassword = watch('newPassword');
  return (
    <section className="card" aria-labelledby="password-title">
      <h2 id="password-title">Change password</h2>
      <form onSubmit={form.onSubmit} noValidate>
        <input
          type="text"
          name="username"
          autoComplete="username"
          value={user?.email ?? ''}
          hidden
          readOnly
        />
        <Field
          label="Current password"
          type="password"
          autoComplete="current-password"
          error={formState.errors.currentPassword?.message}
          {...register('currentPassword')}
        />
        <PasswordField
          label="New password"
          error={formState.errors.newPassword?.message}
          password={newPassword}
          policy={policy}
          email={context.email}
          displayName={context.name}
          {...register('newPassword')}
        />
        <Field
          label="Confirm new password"
          type="password"
          autoComplete="new-password"
          error={formState.errors.confirm?.message}
          {...register('confirm')}
        />
        <FormAlert message={form.formError} />
        <Button type="submit" loading={form.pending} loadingText="Changing…">
          Change password
        </Button>
      </form>
    </section>
  );
}
