import { useEffect, useState } from 'react';
import { describeError, LatchkeyError } from '../../api.js';
import { useApp } from '../../app-context.js';
import { ConfirmButton } from '../../components/ConfirmButton.js';
import { useToast } from '../../components/toast.js';
import { Button, FormAlert } from '../../components/ui.js';
import { dateTime } from '../../format.js';
import { useLoad } from '../../hooks/useLoad.js';
import { useSessionGuard } from '../../hooks/useSessionGuard.js';

export function Devices({ version }: { version: number }) {
  const { api } = useApp();
  const toast = useToast();
  const ended = useSessionGuard();
  const [busy, setBusy] = useState<string>();
  const { data, error, reload } = useLoad(() => api.listSessions(), [api, version]);
  const sessions = data?.sessions;
  const sessionEnded = error instanceof LatchkeyError && error.status === 401;
  useEffect(() => {
    if (error) ended(error);
  }, [error, ended]);
  const loadError = error && !sessionEnded ? describeError(error) : undefined;

  const signOut = async (id: string | 'others') => {
    setBusy(id);
    try {
      if (id === 'others') await api.revokeOtherSessions();
      else await api.revokeSession(id);
      toast(id === 'others' ? 'Every other device was signed out.' : 'Device signed out.');
      reload();
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
      <FormAlert message={loadError} />
      {sessions === undefined && !loadError ? <p className="hint">Loading…</p> : null}
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
        <ConfirmButton
          loading={busy === 'others'}
          loadingText="Signing out…"
          question={`Sign out ${others.length === 1 ? 'the other device' : `all ${others.length} other devices`}? This device stays signed in.`}
          confirmLabel="Yes, sign them out"
          onConfirm={() => signOut('others')}
        >
          Sign out all other devices
        </ConfirmButton>
      ) : sessions ? (
        <p className="hint">You are signed in on this device only.</p>
      ) : null}
    </section>
  );
}
