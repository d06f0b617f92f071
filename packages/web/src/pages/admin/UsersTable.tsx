import { type FormEvent, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { describeError, LatchkeyError } from '../../api.js';
import { useApp } from '../../app-context.js';
import { Email } from '../../components/Email.js';
import { Button, FormAlert } from '../../components/ui.js';
import { dateTime, query } from '../../format.js';
import { useLoad } from '../../hooks/useLoad.js';

/** Users per page. */
const PAGE_SIZE = 20;

export function UsersTable() {
  const { api } = useApp();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const cursor = params.get('cursor') ?? undefined;
  const [search, setSearch] = useState(q);
  const [history, setHistory] = useState<string[]>([]);
  const {
    data: page,
    error,
    loading,
  } = useLoad(
    () => api.admin.listUsers({ q: q || undefined, cursor: cursor || undefined, limit: PAGE_SIZE }),
    [api, q, cursor],
  );

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
      {error instanceof LatchkeyError && error.code === 'mfa_enrollment_required' ? (
        <FormAlert message="Your role needs two-step sign-in before you can use the admin pages. ">
          <Link to="/account#two-step-title">Set up a second factor on your account page</Link>,
          then sign in with it.
        </FormAlert>
      ) : (
        <FormAlert message={error ? describeError(error) : undefined} />
      )}
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
                  <Link to={`/admin?user=${user.id}`}>
                    <Email address={user.email} truncate />
                  </Link>
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
