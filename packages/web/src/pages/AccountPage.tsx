import { zodResolver } from '@hookform/resolvers/zod';
import type { DeviceSession } from '@latchkey/sdk';
import * as s from '@latchkey/contract';
import { useCallback, useEffect, useState } from 'react';
import { useForm } from 'react-hook-form';
import type { z } from 'zod';
import { describeError, fieldErrors, LatchkeyError } from '../api.js';
import { useApp } from '../app-context.js';
import { StrengthMeter } from '../components/StrengthMeter.js';
import { useToast } from '../components/toast.js';
import { Button, Field, FormAlert, PageTitle } from '../components/ui.js';
import {
  type ChangeEmailForm,
  changeEmailForm,
  type ChangePasswordForm,
  changePasswordForm,
} from '../forms.js';
import { checkPassword } from '../password-strength.js';

const dateTime = (iso: string) =>
  new Date(iso).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });

/** A 401 anywhere on the page means the session is over: back to sign-in. */
function useSessionGuard() {
  const { setUser } = useApp();
  return useCallback(
    (error: unknown) => {
      if (error instanceof LatchkeyError && error.status === 401) {
        setUser(null);
        return true;
      }
      return false;
    },
    [setUser],
  );
}

function Profile() {
  const { user } = useApp();
  if (!user) return null;
  return (
    <section className="card" aria-labelledby="profile-title">
      <h2 id="profile-title">Profile</h2>
      <dl className="facts">
        <dt>Email</dt>
        <dd>
          {user.email}{' '}
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
    </section>
  );
}

function ChangePassword({ onChanged }: { onChanged: () => void }) {
  const { api, config, user } = useApp();
  const toast = useToast();
  const ended = useSessionGuard();
  const [formError, setFormError] = useState<string>();
  const {
    register,
    handleSubmit,
    watch,
    setError,
    reset,
    formState: { errors, isSubmitting },
  } = useForm<ChangePasswordForm>({
    resolver: zodResolver(changePasswordForm),
    defaultValues: { currentPassword: '', newPassword: '', confirm: '' },
  });
  const policy = { ...config.password, serviceName: config.serviceName };
  const context = { email: user?.email ?? '', name: user?.name ?? '' };
  const newPassword = watch('newPassword');
  const onSubmit = handleSubmit(async (values) => {
    setFormError(undefined);
    const verdict = checkPassword(values.newPassword, policy, context);
    if (!verdict.ok) {
      setError(
        'newPassword',
        { message: verdict.message ?? 'Choose a stronger password.' },
        { shouldFocus: true },
      );
      return;
    }
    try {
      await api.changePassword({
        currentPassword: values.currentPassword,
        newPassword: values.newPassword,
      });
      reset();
      toast('Password changed. Your other devices were signed out.');
      onChanged();
    } catch (error) {
      if (error instanceof LatchkeyError && error.code === 'invalid_credentials') {
        setError(
          'currentPassword',
          { message: 'This is not your current password.' },
          { shouldFocus: true },
        );
        return;
      }
      if (ended(error)) return;
      const fields = fieldErrors(error);
      if (fields.newPassword)
        setError('newPassword', { message: fields.newPassword }, { shouldFocus: true });
      else setFormError(describeError(error));
    }
  });
  return (
    <section className="card" aria-labelledby="password-title">
      <h2 id="password-title">Change password</h2>
      <form onSubmit={onSubmit} noValidate>
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
          error={errors.currentPassword?.message}
          {...register('currentPassword')}
        />
        <Field
          label="New password"
          type="password"
          autoComplete="new-password"
          error={errors.newPassword?.message}
          hint={
            <StrengthMeter
              password={newPassword}
              policy={policy}
              email={context.email}
              name={context.name}
            />
          }
          {...register('newPassword')}
        />
        <Field
          label="Confirm new password"
          type="password"
          autoComplete="new-password"
          error={errors.confirm?.message}
          {...register('confirm')}
        />
        <FormAlert message={formError} />
        <Button type="submit" loading={isSubmitting} loadingText="Changing…">
          Change password
        </Button>
      </form>
    </section>
  );
}

function ChangeEmail() {
  const { api } = useApp();
  const toast = useToast();
  const ended = useSessionGuard();
  const [sent, setSent] = useState<string>();
  const [formError, setFormError] = useState<string>();
  const {
    register,
    handleSubmit,
    setError,
    reset,
    formState: { errors, isSubmitting },
  } = useForm<ChangeEmailForm>({
    resolver: zodResolver(changeEmailForm),
    defaultValues: { newEmail: '', password: '' },
  });
  const onSubmit = handleSubmit(async (values) => {
    setFormError(undefined);
    setSent(undefined);
    try {
      await api.changeEmail(values);
      reset();
      setSent(
        `We sent a link to ${values.newEmail.trim()}. Your address changes when you open it.`,
      );
      toast('Confirmation link sent to the new address.');
    } catch (error) {
      if (error instanceof LatchkeyError && error.code === 'invalid_credentials') {
        setError(
          'password',
          { message: 'This is not your current password.' },
          { shouldFocus: true },
        );
        return;
      }
      if (ended(error)) return;
      const fields = fieldErrors(error);
      if (fields.newEmail)
        setError('newEmail', { message: fields.newEmail }, { shouldFocus: true });
      else setFormError(describeError(error));
    }
  });
  return (
    <section className="card" aria-labelledby="email-title">
      <h2 id="email-title">Change email address</h2>
      <form onSubmit={onSubmit} noValidate>
        <Field
          label="New email address"
          type="email"
          autoComplete="email"
          error={errors.newEmail?.message}
          {...register('newEmail')}
        />
        <Field
          label="Current password"
          type="password"
          autoComplete="current-password"
          error={errors.password?.message}
          {...register('password')}
        />
        <FormAlert message={formError} />
        <FormAlert kind="success" message={sent} />
        <Button type="submit" loading={isSubmitting} loadingText="Sending…">
          Send confirmation link
        </Button>
      </form>
    </section>
  );
}

function Devices({ version }: { version: number }) {
  const { api } = useApp();
  const toast = useToast();
  const ended = useSessionGuard();
  const [sessions, setSessions] = useState<DeviceSession[]>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState<string>();
  const load = useCallback(async () => {
    try {
      const { sessions: list } = await api.listSessions();
      setSessions(list);
      setError(undefined);
    } catch (e) {
      if (!ended(e)) setError(describeError(e));
    }
  }, [api, ended]);
  useEffect(() => {
    void load();
  }, [load, version]);

  const signOut = async (id: string | 'others') => {
    setBusy(id);
    try {
      if (id === 'others') await api.revokeOtherSessions();
      else await api.revokeSession(id);
      toast(id === 'others' ? 'Every other device was signed out.' : 'Device signed out.');
      await load();
    } catch (e) {
      if (!ended(e)) toast(describeError(e), 'error');
    } finally {
      setBusy(undefined);
    }
  };

  const others = sessions?.filter((session) => !session.current) ?? [];
  return (
    <section className="card" aria-labelledby="devices-title" aria-busy={sessions === undefined}>
      <h2 id="devices-title">Signed-in devices</h2>
      <FormAlert message={error} />
      {sessions === undefined && !error ? <p className="hint">Loading…</p> : null}
      <ul className="devices">
        {sessions?.map((session) => (
          <li key={session.id} className="device" data-testid="device">
            <div>
              <strong>{session.device}</strong>
              {session.current ? <span className="badge ok">this device</span> : null}
              <div className="hint">
                Last active {dateTime(session.lastSeenAt)}
                {session.ip ? ` · ${session.ip}` : ''} · signed in {dateTime(session.createdAt)}
              </div>
            </div>
            {session.current ? null : (
              <Button
                variant="secondary"
                loading={busy === session.id}
                loadingText="Signing out…"
                onClick={() => signOut(session.id)}
                aria-label={`Sign out ${session.device}, last active ${dateTime(session.lastSeenAt)}`}
              >
                Sign out
              </Button>
            )}
          </li>
        ))}
      </ul>
      {others.length > 0 ? (
        <Button
          variant="danger"
          loading={busy === 'others'}
          loadingText="Signing out…"
          onClick={() => signOut('others')}
        >
          Sign out all other devices
        </Button>
      ) : sessions ? (
        <p className="hint">You are signed in on this device only.</p>
      ) : null}
    </section>
  );
}

type ActivityEvent = z.output<typeof s.activityEvent>;

const ACTIVITY_LABELS: Record<string, string> = {
  register: 'Account created',
  'register.existing_email': 'Someone tried to sign up with your address',
  'verification.resent': 'A new confirmation link was sent',
  'email.verified': 'Email address confirmed',
  'login.succeeded': 'Signed in',
  'login.failed': 'Failed sign-in attempt',
  'login.throttled': 'Sign-ins slowed down after failed attempts',
  'login.locked': 'Password sign-in locked after too many failed attempts',
  'login.device_throttled': 'Sign-ins on one device slowed down after failed attempts',
  'login.device_locked': 'A device stopped being trusted after failed attempts',
  logout: 'Signed out',
  'session.rotated': 'Your session was renewed',
  'password_reset.requested': 'Password reset requested',
  'password.reset': 'Password reset',
  'password.changed': 'Password changed',
  'email_change.requested': 'Email change requested',
  'email.changed': 'Email address changed',
  'session.revoked': 'A device was signed out',
  'sessions.revoked_others': 'Other devices were signed out',
  'user.disabled': 'Account disabled',
  'user.enabled': 'Account enabled',
  'user.renamed': 'Name changed by an administrator',
  'user.roles_changed': 'Roles changed',
  'admin.password_reset': 'An administrator asked for a password reset',
  'admin.sessions_revoked': 'An administrator signed out every device',
  refresh_token_reuse: 'A reused sign-in token was refused',
  'admin.denied': 'An administrative action was refused',
  'request.forbidden': 'A request was refused',
};

const activityLabel = (type: string) => ACTIVITY_LABELS[type] ?? type.replace(/[._]/g, ' ');

/** Recent security activity (GET /auth/activity); the section stays hidden where the server has none. */
function Activity({ version }: { version: number }) {
  const { api } = useApp();
  const [events, setEvents] = useState<ActivityEvent[] | null>();
  useEffect(() => {
    let live = true;
    api
      .request('GET', '/auth/activity?limit=10', { schema: s.activityResponse })
      .then((answer) => live && setEvents(answer.events))
      .catch(() => live && setEvents(null));
    return () => {
      live = false;
    };
  }, [api, version]);
  if (!events) return null;
  return (
    <section className="card" aria-labelledby="activity-title">
      <h2 id="activity-title">Recent security activity</h2>
      {events.length === 0 ? <p className="hint">Nothing yet.</p> : null}
      <ul className="activity">
        {events.map((event) => (
          <li key={event.id}>
            <strong>{activityLabel(event.type)}</strong>
            {event.byAdmin ? <span className="badge warn">by an administrator</span> : null}
            <div className="hint">
              {dateTime(event.createdAt)} · {event.device}
              {event.ip ? ` · ${event.ip}` : ''}
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function AccountPage() {
  const { user } = useApp();
  const [version, setVersion] = useState(0);
  const bump = useCallback(() => setVersion((v) => v + 1), []);
  return (
    <>
      <PageTitle>Your account</PageTitle>
      <p className="lead">Signed in as {user?.email}.</p>
      <div className="grid">
        <Profile />
        <Devices version={version} />
        <ChangePassword onChanged={bump} />
        <ChangeEmail />
        <Activity version={version} />
      </div>
    </>
  );
}
