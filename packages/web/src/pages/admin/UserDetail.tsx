import { useEffect, useState } from 'react';
import { describeError, LatchkeyError } from '../../api.js';
import { useApp } from '../../app-context.js';
import { ConfirmButton } from '../../components/ConfirmButton.js';
import { Email } from '../../components/Email.js';
import { useToast } from '../../components/toast.js';
import { Button, FormAlert } from '../../components/ui.js';
import { dateTime } from '../../format.js';
import { useLoad } from '../../hooks/useLoad.js';
import { AuditEvents } from './AuditEvents.js';

/** One user: facts, the actions on them, their roles, sessions and audit events. */
export function UserDetail({ id }: { id: string }) {
  const { api, user: me } = useApp();
  const toast = useToast();
  const [busy, setBusy] = useState<string>();
  const [roles, setRoles] = useState<string[]>([]);
  // Each action writes audit rows: the user's audit list below loads again after one.
  const [version, setVersion] = useState(0);
  const detail = useLoad(() => api.admin.getUser(id), [api, id]);
  const known = useLoad(() => api.admin.listRoles(), [api]).data?.roles ?? [];
  useEffect(() => {
    if (detail.data) setRoles(detail.data.user.roles);
  }, [detail.data]);

  const act = async (name: string, run: () => Promise<unknown>, done: string) => {
    setBusy(name);
    try {
      await run();
      toast(done);
    } catch (e) {
      toast(describeError(e), 'error');
    } finally {
      setBusy(undefined);
      detail.reload();
      setVersion((v) => v + 1);
    }
  };

  if (!detail.data) {
    if (!detail.error) return <p className="hint">Loading…</p>;
    const missing = detail.error instanceof LatchkeyError && detail.error.status === 404;
    return <FormAlert message={missing ? 'No such user.' : describeError(detail.error)} />;
  }
  const { user, sessions } = detail.data;
  const self = me?.id === user.id;
  return (
    <>
      <section className="card wide" aria-labelledby="user-title">
        <h2 id="user-title">
          <Email address={user.email} />
        </h2>
        <dl className="facts">
          <dt>Name</dt>
          <dd>{user.name ?? '—'}</dd>
          <dt>Status</dt>
          <dd>
            {user.disabled ? 'disabled' : 'active'}, email{' '}
            {user.emailVerified ? 'confirmed' : 'not confirmed'}
          </dd>
          <dt>Created</dt>
          <dd>{dateTime(user.createdAt)}</dd>
        </dl>
        <div className="row actions">
          {user.disabled ? (
            <Button
              loading={busy === 'disable'}
              onClick={() =>
                act(
                  'disable',
                  () => api.admin.updateUser(user.id, { disabled: false }),
                  'User enabled.',
                )
              }
            >
              Enable user
            </Button>
          ) : (
            <ConfirmButton
              disabled={self}
              loading={busy === 'disable'}
              question={`Disable ${user.email}? They are signed out everywhere and cannot sign in until enabled again.`}
              confirmLabel="Yes, disable"
              onConfirm={() =>
                act(
                  'disable',
                  () => api.admin.updateUser(user.id, { disabled: true }),
                  'User disabled and signed out everywhere.',
                )
              }
            >
              Disable user
            </ConfirmButton>
          )}
          <Button
            variant="secondary"
            loading={busy === 'reset'}
            onClick={() =>
              act(
                'reset',
                () => api.admin.resetUserPassword(user.id),
                'Reset link mailed; the user was signed out.',
              )
            }
          >
            Force password reset
          </Button>
          <ConfirmButton
            variant="secondary"
            loading={busy === 'revoke'}
            question={`Sign ${user.email} out on every device?`}
            confirmLabel="Yes, sign out everywhere"
            onConfirm={() =>
              act('revoke', () => api.admin.revokeUserSessions(user.id), 'Every session ended.')
            }
          >
            Sign out everywhere
          </ConfirmButton>
          <ConfirmButton
            variant="secondary"
            loading={busy === 'mfa'}
            question={`Remove every second factor of ${user.email} (app, recovery codes, passkeys)? Their next sign-in needs only the password. Make sure it is really them asking.`}
            confirmLabel="Yes, remove them"
            onConfirm={() =>
              act(
                'mfa',
                () => api.admin.removeSecondFactors(user.id),
                'Second factors removed; the user was mailed.',
              )
            }
          >
            Remove second factors
          </ConfirmButton>
        </div>
        <form
          className="roles"
          onSubmit={(event) => {
            event.preventDefault();
            void act('roles', () => api.admin.updateUser(user.id, { roles }), 'Roles saved.');
          }}
        >
          <fieldset>
            <legend>Roles</legend>
            {[...new Set([...known.map((r) => r.name), ...user.roles])].map((name) => (
              <label key={name} className="check">
                <input
                  type="checkbox"
                  checked={roles.includes(name)}
                  disabled={self && name === 'admin'}
                  onChange={(e) =>
                    setRoles((current) =>
                      e.target.checked ? [...current, name] : current.filter((r) => r !== name),
                    )
                  }
                />{' '}
                {name}
                <span className="hint"> {known.find((r) => r.name === name)?.description}</span>
              </label>
            ))}
          </fieldset>
          <Button type="submit" loading={busy === 'roles'}>
            Save roles
          </Button>
        </form>
      </section>
      <section className="card wide" aria-labelledby="sessions-title">
        <h2 id="sessions-title">Sessions</h2>
        {sessions.length === 0 ? <p className="hint">No live sessions.</p> : null}
        <ul className="devices">
          {sessions.map((session) => (
            <li key={session.id} className="device">
              <strong>{session.device}</strong>
              <div className="hint">
                Last active {dateTime(session.lastSeenAt)}
                {session.ip ? ` · ${session.ip}` : ''}
              </div>
            </li>
          ))}
        </ul>
      </section>
      <AuditEvents userId={user.id} version={version} />
    </>
  );
}
