import * as s from '@latchkey/contract';
import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import type { z } from 'zod';
import { describeError, LatchkeyError } from '../api.js';
import { useApp } from '../app-context.js';
import { useToast } from '../components/toast.js';
import { Button, FormAlert, PageTitle } from '../components/ui.js';

type AdminUser = z.output<typeof s.adminUser>;
type AdminDetail = z.output<typeof s.adminUserDetail>;
type AuditEvent = z.output<typeof s.auditEvent>;

const dateTime = (iso: string) =>
  new Date(iso).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });

function query(params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) search.set(key, value);
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** The admin pages: users (search, pages), one user (sessions, disable, roles, reset), audit events. */
export function AdminPage() {
  const [params] = useSearchParams();
  const userId = params.get('user');
  const tab = params.get('tab') === 'audit' ? 'audit' : 'users';
  return (
    <>
      <PageTitle>Administration</PageTitle>
      <nav className="tabs" aria-label="Administration">
        <Link to="/admin" aria-current={tab === 'users' && !userId ? 'page' : undefined}>
          Users
        </Link>
        <Link to="/admin?tab=audit" aria-current={tab === 'audit' ? 'page' : undefined}>
          Audit events
        </Link>
      </nav>
      {userId ? <UserDetail id={userId} /> : tab === 'audit' ? <AuditEvents /> : <UsersTable />}
    </>
  );
}

function UsersTable() {
  const { api } = useApp();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const cursor = params.get('cursor') ?? undefined;
  const [search, setSearch] = useState(q);
  const [page, setPage] = useState<{ users: AdminUser[]; nextCursor: string | null }>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(false);
  const [history, setHistory] = useState<string[]>([]);

  useEffect(() => {
    let live = true;
    setLoading(true);
    api
      .request('GET', `/admin/users${query({ q, cursor, limit: '20' })}`, {
        schema: s.adminUsersResponse,
      })
      .then((answer) => {
        if (live) {
          setPage(answer);
          setError(undefined);
        }
      })
      .catch((e: unknown) => live && setError(describeError(e)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [api, q, cursor]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setHistory([]);
    setParams(search.trim() ? { q: search.trim() } : {});
  };

  return (
    <section className="card wide" aria-labelledby="users-title" aria-busy={loading}>
      <h2 id="users-title">Users</h2>
      <form className="search" role="search" onSubmit={submit}>
        <label htmlFor="user-search">Search by email</label>
        <div className="row">
          <input
            id="user-search"
            type="search"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
          />
          <Button type="submit" loading={loading && Boolean(search)} loadingText="Searching…">
            Search
          </Button>
        </div>
      </form>
      <FormAlert message={error} />
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Email</th>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Roles</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {page?.users.map((user) => (
              <tr key={user.id}>
                <td>
                  <Link to={`/admin?user=${user.id}`}>{user.email}</Link>
                </td>
                <td>{user.name ?? '—'}</td>
                <td>
                  {user.disabled ? 'disabled' : user.emailVerified ? 'active' : 'unconfirmed'}
                </td>
                <td>{user.roles.join(', ') || '—'}</td>
                <td>{dateTime(user.createdAt)}</td>
              </tr>
            ))}
            {page && page.users.length === 0 ? (
              <tr>
                <td colSpan={5}>No users found.</td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
      <div className="row pager">
        <Button
          variant="secondary"
          disabled={history.length === 0}
          onClick={() => {
            const previous = history.slice(0, -1);
            const back = history.at(-1);
            setHistory(previous);
            setParams(query({ q: q || undefined, cursor: back || undefined }));
          }}
        >
          Previous page
        </Button>
        <Button
          variant="secondary"
          disabled={!page?.nextCursor}
          onClick={() => {
            if (!page?.nextCursor) return;
            setHistory([...history, cursor ?? '']);
            setParams(query({ q: q || undefined, cursor: page.nextCursor }));
          }}
        >
          Next page
        </Button>
      </div>
    </section>
  );
}

function UserDetail({ id }: { id: string }) {
  const { api, user: me } = useApp();
  const toast = useToast();
  const [detail, setDetail] = useState<AdminDetail | null>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState<string>();
  const [roles, setRoles] = useState<string[]>([]);
  const [known, setKnown] = useState<{ name: string; description: string }[]>([]);
  const path = `/admin/users/${encodeURIComponent(id)}`;

  const load = useCallback(async () => {
    try {
      const answer = await api.request('GET', path, { schema: s.adminUserDetail });
      setDetail(answer);
      setRoles(answer.user.roles);
      setError(undefined);
    } catch (e) {
      setDetail(null);
      setError(e instanceof LatchkeyError && e.status === 404 ? 'No such user.' : describeError(e));
    }
  }, [api, path]);
  useEffect(() => {
    void load();
  }, [load]);
  useEffect(() => {
    api
      .request('GET', '/admin/roles', { schema: s.rolesResponse })
      .then((answer) => setKnown(answer.roles))
      .catch(() => setKnown([]));
  }, [api]);

  const act = async (name: string, run: () => Promise<unknown>, done: string) => {
    setBusy(name);
    try {
      await run();
      toast(done);
      await load();
    } catch (e) {
      toast(describeError(e), 'error');
    } finally {
      setBusy(undefined);
    }
  };

  if (detail === undefined) return <p className="hint">Loading…</p>;
  if (detail === null) return <FormAlert message={error} />;
  const { user, sessions } = detail;
  const self = me?.id === user.id;
  return (
    <>
      <section className="card" aria-labelledby="user-title">
        <h2 id="user-title">{user.email}</h2>
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
          <Button
            variant={user.disabled ? 'primary' : 'danger'}
            disabled={self}
            loading={busy === 'disable'}
            onClick={() =>
              act(
                'disable',
                () =>
                  api.request('PATCH', path, {
                    body: { disabled: !user.disabled },
                    schema: s.adminUserResponse,
                  }),
                user.disabled ? 'User enabled.' : 'User disabled and signed out everywhere.',
              )
            }
          >
            {user.disabled ? 'Enable user' : 'Disable user'}
          </Button>
          <Button
            variant="secondary"
            loading={busy === 'reset'}
            onClick={() =>
              act(
                'reset',
                () => api.request('POST', `${path}/reset-password`, { schema: null }),
                'Reset link mailed; the user was signed out.',
              )
            }
          >
            Force password reset
          </Button>
          <Button
            variant="secondary"
            loading={busy === 'revoke'}
            onClick={() =>
              act(
                'revoke',
                () => api.request('POST', `${path}/revoke-sessions`, { schema: null }),
                'Every session ended.',
              )
            }
          >
            Sign out everywhere
          </Button>
        </div>
        <form
          className="roles"
          onSubmit={(event) => {
            event.preventDefault();
            void act(
              'roles',
              () => api.request('PATCH', path, { body: { roles }, schema: s.adminUserResponse }),
              'Roles saved.',
            );
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
      <section className="card" aria-labelledby="sessions-title">
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
      <AuditEvents userId={user.id} />
    </>
  );
}

function AuditEvents({ userId }: { userId?: string }) {
  const { api } = useApp();
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [type, setType] = useState('');
  const [filter, setFilter] = useState('');
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(false);

  const load = useCallback(
    async (cursor?: string) => {
      setLoading(true);
      try {
        const answer = await api.request(
          'GET',
          `/admin/audit-events${query({ userId, type: filter, cursor, limit: '25' })}`,
          {
            schema: s.auditEventsResponse,
          },
        );
        setEvents((current) => (cursor ? [...current, ...answer.events] : answer.events));
        setNext(answer.nextCursor);
        setError(undefined);
      } catch (e) {
        setError(describeError(e));
      } finally {
        setLoading(false);
      }
    },
    [api, userId, filter],
  );
  useEffect(() => {
    void load();
  }, [load]);

  return (
    <section className="card wide" aria-labelledby="audit-title" aria-busy={loading}>
      <h2 id="audit-title">Audit events</h2>
      <form
        className="search"
        onSubmit={(event) => {
          event.preventDefault();
          setFilter(type.trim());
        }}
      >
        <label htmlFor="audit-type">Event type (e.g. login.failed)</label>
        <div className="row">
          <input id="audit-type" value={type} onChange={(e) => setType(e.target.value)} />
          <Button type="submit">Filter</Button>
        </div>
      </form>
      <FormAlert message={error} />
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Type</th>
              <th scope="col">User</th>
              <th scope="col">IP</th>
            </tr>
          </thead>
          <tbody>
            {events.map((event) => (
              <tr key={event.id}>
                <td>{dateTime(event.createdAt)}</td>
                <td>
                  <code>{event.type}</code>
                </td>
                <td>
                  {event.userId ? (
                    <Link to={`/admin?user=${event.userId}`}>{event.userId.slice(0, 8)}</Link>
                  ) : (
                    '—'
                  )}
                </td>
                <td>{event.ip ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {next ? (
        <Button variant="secondary" loading={loading} onClick={() => load(next)}>
          Load more
        </Button>
      ) : null}
    </section>
  );
}
