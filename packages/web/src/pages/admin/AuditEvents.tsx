import { useEffect, useState } from 'react';
import { Link } from 'react-router';
import type { AuditEvent } from '@latchkey/sdk';
import { describeError } from '../../api.js';
import { useApp } from '../../app-context.js';
import { Email } from '../../components/Email.js';
import { Button, FormAlert } from '../../components/ui.js';
import { compactData, eventLabel } from '../../event-labels.js';
import { dateTime } from '../../format.js';
import { useLoad } from '../../hooks/useLoad.js';

/** Who an event is about or by: the email while the account exists, else the full id. */
function Person({ id, email }: { id: string | null; email: string | null | undefined }) {
  if (!id) return <>—</>;
  if (!email) return <span className="id" title={id}>{`deleted account ${id}`}</span>;
  return (
    <Link to={`/admin?user=${id}`}>
      <Email address={email} truncate />
    </Link>
  );
}

/** Events per page. */
const PAGE_SIZE = 25;

/** The audit trail, newest first; with `userId` one user's, loaded again when `version` changes. */
export function AuditEvents({ userId, version = 0 }: { userId?: string; version?: number }) {
  const { api } = useApp();
  const [type, setType] = useState('');
  const [filter, setFilter] = useState('');
  // The filter as a query: an empty one means every type.
  const search = { userId, type: filter || undefined, limit: PAGE_SIZE };
  const first = useLoad(() => api.admin.auditEvents(search), [api, userId, filter, version]);
  // Pages after the first ("Load more"), dropped whenever the first page is loaded again.
  const [more, setMore] = useState<{ events: AuditEvent[]; nextCursor: string | null }>();
  const [moreError, setMoreError] = useState<unknown>();
  const [loadingMore, setLoadingMore] = useState(false);
  useEffect(() => {
    setMore(undefined);
    setMoreError(undefined);
  }, [first.data]);

  const events = [...(first.data?.events ?? []), ...(more?.events ?? [])];
  const next = more ? more.nextCursor : (first.data?.nextCursor ?? null);
  const loadMore = async (cursor: string) => {
    setLoadingMore(true);
    try {
      const answer = await api.admin.auditEvents({ ...search, cursor });
      setMore((current) => ({
        events: [...(current?.events ?? []), ...answer.events],
        nextCursor: answer.nextCursor,
      }));
      setMoreError(undefined);
    } catch (e) {
      setMoreError(e);
    } finally {
      setLoadingMore(false);
    }
  };
  const error = first.error ?? moreError;
  const loading = first.loading || loadingMore;

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
      <FormAlert message={error ? describeError(error) : undefined} />
      <div className="table-wrap">
        <table className="audit">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Event</th>
              <th scope="col">User</th>
              <th scope="col">By</th>
              <th scope="col">IP</th>
            </tr>
          </thead>
          <tbody>
            {events.map((event) => {
              const data = compactData(event.data);
              return (
                <tr key={event.id}>
                  <td>{dateTime(event.createdAt)}</td>
                  <td>
                    <span className="event-label">{eventLabel(event.type)}</span>{' '}
                    <code className="event-type">{event.type}</code>
                    {data ? <div className="event-data hint">{data}</div> : null}
                  </td>
                  <td>
                    <Person id={event.userId} email={event.userEmail} />
                  </td>
                  <td>
                    {event.actorId && event.actorId === event.userId ? (
                      'themselves'
                    ) : (
                      <Person id={event.actorId} email={event.actorEmail} />
                    )}
                  </td>
                  <td>{event.ip ?? '—'}</td>
                </tr>
              );
            })}
            {first.data && events.length === 0 ? (
              <tr>
                <td colSpan={5}>No events.</td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
      {next ? (
        <Button variant="secondary" loading={loadingMore} onClick={() => loadMore(next)}>
          Load more
        </Button>
      ) : null}
    </section>
  );
}
