import { useApp } from '../../app-context.js';
import { eventLabel } from '../../event-labels.js';
import { dateTime } from '../../format.js';
import { useLoad } from '../../hooks/useLoad.js';

/** Recent security activity (GET /auth/activity); the section stays hidden where the server has none. */
export function Activity({ version }: { version: number }) {
  const { api } = useApp();
  const { data, error } = useLoad(() => api.activity({ limit: 10 }), [api, version]);
  const events = data?.events;
  if (!events || error) return null;
  return (
    <section className="card" aria-labelledby="activity-title">
      <h2 id="activity-title">Recent security activity</h2>
      {events.length === 0 ? <p className="hint">Nothing yet.</p> : null}
      <ul className="activity">
        {events.map((event) => (
          <li key={event.id}>
            <strong>{eventLabel(event.type)}</strong>
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
