import { zodResolver } from '@hookform/resolvers/zod';
import { useApp } from '../../app-context.js';
import { Email } from '../../components/Email.js';
import { Button, Field, FormAlert } from '../../components/ui.js';
import { dateTime } from '../../format.js';
import { type ProfileForm, profileForm, profileFormErrors } from '../../forms.js';
import { useApiForm } from '../../hooks/useApiForm.js';

export function Profile({ onChanged }: { onChanged: () => void }) {
  const { user } = useApp();
  if (!user) return null;
  return (
    <section className="card" aria-labelledby="profile-title">
      <h2 id="profile-title">Profile</h2>
      <dl className="facts">
        <dt>Email</dt>
        <dd>
          <Email address={user.email} />{' '}
          <span className={`badge ${user.emailVerified ? 'ok' : 'warn'}`}>
            {user.emailVerified ? 'confirmed' : 'not confirmed'}
          </span>
        </dd>
        <dt>Name</dt>
        <dd>{user.name ?? '—'}</dd>
        {user.roles.length ? (
          <>
            <dt>Roles</dt>
            <dd>{user.roles.join(', ')}</dd>
          </>
        ) : null}
        <dt>Member since</dt>
        <dd>{dateTime(user.createdAt)}</dd>
      </dl>
      <NameForm name={user.name} onChanged={onChanged} />
    </section>
  );
}

/**
 * Changes your own display name. The signed-in user in the app's state is replaced by the
 * server's answer, so the facts above and the password check (which refuses passwords built
 * from the name) use the new name at once.
 */
function NameForm({ name, onChanged }: { name: string | null; onChanged: () => void }) {
  const { api, setUser } = useApp();
  const form = useApiForm<ProfileForm>({
    form: {
      resolver: zodResolver(profileForm, { error: profileFormErrors }),
      defaultValues: { name: name ?? '' },
    },
    signedIn: true,
    submit: async (values, { reset }) => {
      const updated = await api.updateMe(values);
      setUser(updated);
      reset({ name: updated.name ?? '' });
      onChanged();
    },
    success: 'Name saved.',
  });
  const { register, formState } = form;
  return (
    <form className="name-form" onSubmit={form.onSubmit} noValidate>
      <Field
        label="Display name"
        autoComplete="name"
        error={formState.errors.name?.message}
        {...register('name')}
      />
      <FormAlert message={form.formError} />
      <Button type="submit" loading={form.pending} loadingText="Saving…">
        Save name
      </Button>
    </form>
  );
}
