import { useState } from 'react';
import { WEBHOOK_EVENT_TYPES } from '@latchkey/contract';
import type { WebhookEndpoint, WebhookEventType } from '@latchkey/sdk';
import { describeError } from '../../api.js';
import { useApp } from '../../app-context.js';
import { ConfirmButton } from '../../components/ConfirmButton.js';
import { useToast } from '../../components/toast.js';
import { Button, FormAlert } from '../../components/ui.js';
import { dateTime } from '../../format.js';
import { useLoad } from '../../hooks/useLoad.js';

/** The webhook endpoints: add one (its secret shown once), test, rotate, disable, remove. */
export function Webhooks() {
  const { api } = useApp();
  const toast = useToast();
  const list = useLoad(() => api.admin.listWebhooks(), [api]);
  const [secret, setSecret] = useState<{ id: string; secret: string }>();
  const [open, setOpen] = useState<string>();
  const [busy, setBusy] = useState<string>();

  const act = async (key: string, run: () => Promise<unknown>, done: string) => {
    setBusy(key);
    try {
      await run();
      toast(done);
    } catch (e) {
      toast(describeError(e), 'error');
    } finally {
      setBusy(undefined);
      list.reload();
    }
  };

  return (
    <>
      <AddWebhook
        onAdded={(created) => {
          setSecret(created);
          list.reload();
        }}
      />
      {secret ? (
        <FormAlert kind="success">
          Signing secret of the new endpoint, shown only now: give it to the receiver.{' '}
          <code className="secret">{secret.secret}</code>
        </FormAlert>
      ) : null}
      <section className="card wide" aria-labelledby="webhooks-title" aria-busy={list.loading}>
        <h2 id="webhooks-title">Webhook endpoints</h2>
        <FormAlert message={list.error ? describeError(list.error) : undefined} />
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Events</th>
                <th scope="col">Status</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {(list.data ?? []).map((w) => (
                <tr key={w.id}>
                  <td>
                    <code>{w.url}</code>
                    {w.description ? <div className="hint">{w.description}</div> : null}
                  </td>
                  <td>{w.events.join(', ')}</td>
                  <td>
                    <Status endpoint={w} />
                  </td>
                  <td className="row actions">
                    <Button
                      variant="secondary"
                      loading={busy === `test:${w.id}`}
                      disabled={!w.enabled}
                      onClick={() =>
                        act(`test:${w.id}`, () => api.admin.testWebhook(w.id), 'Test event queued.')
                      }
                    >
                      Send test
                    </Button>
                    <Button
                      variant="secondary"
                      onClick={() => setOpen(open === w.id ? undefined : w.id)}
                      aria-expanded={open === w.id}
                    >
                      Deliveries
                    </Button>
                    <ConfirmButton
                      variant="secondary"
                      loading={busy === `rotate:${w.id}`}
                      question="Make a new signing secret? The current one keeps signing for 24 hours."
                      confirmLabel="Yes, rotate"
                      onConfirm={() =>
                        act(
                          `rotate:${w.id}`,
                          async () =>
                            setSecret({
                              id: w.id,
                              secret: await api.admin.rotateWebhookSecret(w.id),
                            }),
                          'New secret made.',
                        )
                      }
                    >
                      Rotate secret
                    </ConfirmButton>
                    <Button
                      variant="secondary"
                      loading={busy === `enable:${w.id}`}
                      onClick={() =>
                        act(
                          `enable:${w.id}`,
                          () => api.admin.updateWebhook(w.id, { enabled: !w.enabled }),
                          w.enabled ? 'Endpoint disabled.' : 'Endpoint enabled.',
                        )
                      }
                    >
                      {w.enabled ? 'Disable' : 'Enable'}
                    </Button>
                    <ConfirmButton
                      loading={busy === `remove:${w.id}`}
                      question={`Remove ${w.url} and its deliveries?`}
                      confirmLabel="Yes, remove"
                      onConfirm={() =>
                        act(
                          `remove:${w.id}`,
                          () => api.admin.deleteWebhook(w.id),
                          'Endpoint removed.',
                        )
                      }
                    >
                      Remove
                    </ConfirmButton>
                  </td>
                </tr>
              ))}
              {list.data && list.data.length === 0 ? (
                <tr>
                  <td colSpan={4}>No webhook endpoints.</td>
                </tr>
              ) : null}
            </tbody>
          </table>
        </div>
      </section>
      {open ? <Deliveries id={open} /> : null}
    </>
  );
}

function Status({ endpoint }: { endpoint: WebhookEndpoint }) {
  if (!endpoint.enabled) {
    return (
      <>
        disabled
        {endpoint.disabledReason ? <div className="hint">{endpoint.disabledReason}</div> : null}
      </>
    );
  }
  if (endpoint.failingSince) return <>failing since {dateTime(endpoint.failingSince)}</>;
  return <>enabled</>;
}

function AddWebhook({ onAdded }: { onAdded(created: { id: string; secret: string }): void }) {
  const { api } = useApp();
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [events, setEvents] = useState<WebhookEventType[]>([]);
  const [error, setError] = useState<unknown>();
  const [saving, setSaving] = useState(false);
  return (
    <section className="card wide" aria-labelledby="add-webhook-title">
      <h2 id="add-webhook-title">Add a webhook endpoint</h2>
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          setSaving(true);
          try {
            const created = await api.admin.createWebhook({
              url: url.trim(),
              events,
              ...(description.trim() ? { description: description.trim() } : {}),
            });
            setError(undefined);
            setUrl('');
            setDescription('');
            setEvents([]);
            onAdded({ id: created.id, secret: created.secret });
          } catch (e) {
            setError(e);
          } finally {
            setSaving(false);
          }
        }}
      >
        <label htmlFor="webhook-url">URL</label>
        <input
          id="webhook-url"
          type="url"
          required
          value={url}
          onChange={(e) => setUrl(e.target.value)}
          placeholder="https://app.example.com/webhooks/latchkey"
        />
        <label htmlFor="webhook-description">Description</label>
        <input
          id="webhook-description"
          value={description}
          onChange={(e) => setDescription(e.target.value)}
        />
        <fieldset>
          <legend>Events</legend>
          {WEBHOOK_EVENT_TYPES.map((type) => (
            <label key={type} className="check">
              <input
                type="checkbox"
                checked={events.includes(type)}
                onChange={(e) =>
                  setEvents((current) =>
                    e.target.checked ? [...current, type] : current.filter((t) => t !== type),
                  )
                }
              />{' '}
              <code>{type}</code>
            </label>
          ))}
        </fieldset>
        <FormAlert message={error ? describeError(error) : undefined} />
        <Button type="submit" loading={saving}>
          Add endpoint
        </Button>
      </form>
    </section>
  );
}

function Deliveries({ id }: { id: string }) {
  const { api } = useApp();
  const toast = useToast();
  const page = useLoad(() => api.admin.webhookDeliveries(id, { limit: 50 }), [api, id]);
  return (
    <section className="card wide" aria-labelledby="deliveries-title" aria-busy={page.loading}>
      <h2 id="deliveries-title">Deliveries</h2>
      <FormAlert message={page.error ? describeError(page.error) : undefined} />
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">Status</th>
              <th scope="col">Attempts</th>
              <th scope="col">Last answer</th>
              <th scope="col">Next attempt</th>
              <th scope="col" />
            </tr>
          </thead>
          <tbody>
            {(page.data?.deliveries ?? []).map((d) => (
              <tr key={d.id}>
                <td>
                  <code>{d.type}</code>
                  <div className="hint id">{d.eventId}</div>
                </td>
                <td>{d.status}</td>
                <td>{d.attempts}</td>
                <td>{d.lastError ?? (d.lastStatusCode ? `HTTP ${d.lastStatusCode}` : '—')}</td>
                <td>{d.status === 'pending' ? dateTime(d.nextAttemptAt) : '—'}</td>
                <td>
                  {d.status !== 'pending' ? (
                    <Button
                      variant="secondary"
                      onClick={async () => {
                        try {
                          await api.admin.retryWebhookDelivery(id, d.id);
                          toast('Delivery queued again.');
                          page.reload();
                        } catch (e) {
                          toast(describeError(e), 'error');
                        }
                      }}
                    >
                      Retry
                    </Button>
                  ) : null}
                </td>
              </tr>
            ))}
            {page.data && page.data.deliveries.length === 0 ? (
              <tr>
                <td colSpan={6}>No deliveries yet.</td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
    </section>
  );
}
