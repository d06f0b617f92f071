import { useApp } from '../../app-context.js';
import { Email } from '../../components/Email.js';
import { dateTime } from '../../format.js';

export function Profile() {
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
    </section>
  );
}
