import { startRegistration } from '@simplewebauthn/browser';
import { type FormEvent, useEffect, useState } from 'react';
import type { PasskeyAttestation } from '@latchkey/sdk';
import { describeError, LatchkeyError } from '../../api.js';
import { useApp } from '../../app-context.js';
import { useToast } from '../../components/toast.js';
import { Button, Field, FormAlert } from '../../components/ui.js';
import { dateTime } from '../../format.js';
import { useLoad } from '../../hooks/useLoad.js';
import { useSessionGuard } from '../../hooks/useSessionGuard.js';

type Action = () => Promise<void>;

/**
 * "Two-step sign-in": the authenticator app (QR code and the key to type), recovery codes (shown
 * once, to copy or download), and passkeys. Changes need a recent sign-in: when the server asks
 * for one, the password is asked here and the change then goes through.
 */
export function TwoStep({ onChanged }: { onChanged: () => void }) {
  const { api } = useApp();
  const toast = useToast();
  const ended = useSessionGuard();
  const [version, setVersion] = useState(0);
  const { data: status, error } = useLoad(() => api.mfa.status(), [api, version]);
  const [setup, setSetup] = useState<{ secret: string; qrSvg: string }>();
  const [code, setCode] = useState('');
  const [codes, setCodes] = useState<string[]>();
  const [message, setMessage] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [waiting, setWaiting] = useState<Action>();
  const [password, setPassword] = useState('');
  useEffect(() => {
    if (error) ended(error);
  }, [error, ended]);

  const refresh = () => {
    setVersion((v) => v + 1);
    onChanged();
  };

  /** Runs a change; asks for the password first when the sign-in is not recent enough. */
  const run = async (action: Action) => {
    setBusy(true);
    setMessage(undefined);
    try {
      await action();
    } catch (e) {
      if (e instanceof LatchkeyError && e.code === 'reauthentication_required') {
        setWaiting(() => action);
      } else if (!ended(e)) {
        setMessage(
          e instanceof LatchkeyError && e.code === 'invalid_code'
            ? 'That code is not right. Check the app and try again.'
            : describeError(e),
        );
      }
    } finally {
      setBusy(false);
    }
  };

  const reauthenticate = async (event: FormEvent) => {
    event.preventDefault();
    const action = waiting;
    await run(async () => {
      await api.mfa.reauthenticate({ password });
      setPassword('');
      setWaiting(undefined);
      if (action) await action();
    });
  };

  const startSetup = () =>
    run(async () => {
      const started = await api.mfa.setupTotp();
      setSetup({ secret: started.secret, qrSvg: started.qrSvg });
    });

  const confirm = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => {
      const recovery = await api.mfa.confirmTotp(code.trim());
      setSetup(undefined);
      setCode('');
      if (recovery.length > 0) setCodes(recovery);
      toast('Authenticator app added.');
      refresh();
    });
  };

  const addPasskey = () =>
    run(async () => {
      const options = await api.passkeys.registrationOptions();
      let response;
      try {
        response = await startRegistration({ optionsJSON: options as never });
      } catch {
        setMessage('The passkey was not created. Try again.');
        return;
      }
      await api.passkeys.add(response as PasskeyAttestation);
      toast('Passkey added.');
      refresh();
    });

  const download = () => {
    const blob = new Blob([`${(codes ?? []).join('\n')}\n`], { type: 'text/plain' });
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = 'recovery-codes.txt';
    link.click();
    URL.revokeObjectURL(link.href);
  };

  return (
    <section className="card" aria-labelledby="two-step-title" aria-busy={status === undefined}>
      <h2 id="two-step-title">Two-step sign-in</h2>
      {status?.required && !status.totp && status.passkeys.length === 0 ? (
        <FormAlert
          kind="info"
          message="Your role needs two-step sign-in: set up an authenticator app or a passkey to use the admin pages."
        />
      ) : null}
      <FormAlert message={message} />

      {waiting ? (
        <form onSubmit={reauthenticate} noValidate>
          <p>Confirm it is you to make this change.</p>
          <Field
            label="Your password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
          <Button type="submit" loading={busy}>
            Confirm
          </Button>{' '}
          <Button variant="link" onClick={() => setWaiting(undefined)}>
            Cancel
          </Button>
        </form>
      ) : null}

      <h3>Authenticator app</h3>
      {status?.totp ? (
        <p>
          <span className="badge ok">on</span> since {dateTime(status.totp.createdAt)}{' '}
          <Button
            variant="danger"
            loading={busy}
            onClick={() =>
              void run(async () => {
                await api.mfa.removeTotp();
                toast('Authenticator app removed.');
                refresh();
              })
            }
          >
            Remove the app
          </Button>
        </p>
      ) : setup ? (
        <form onSubmit={confirm} noValidate>
          <p>Scan this code with your authenticator app, or type the key in it.</p>
          <img
            className="qr"
            width={200}
            height={200}
            alt="QR code of the authenticator app's key"
            src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(setup.qrSvg)}`}
          />
          <p>
            Key:{' '}
            <code data-testid="totp-secret">{setup.secret.replace(/(.{4})/g, '$1 ').trim()}</code>
          </p>
          <Field
            label="Code from the app"
            autoComplete="one-time-code"
            inputMode="numeric"
            pattern="[0-9 ]*"
            maxLength={8}
            value={code}
            onChange={(e) => setCode(e.target.value)}
          />
          <Button type="submit" loading={busy}>
            Turn on
          </Button>
        </form>
      ) : (
        <Button variant="secondary" loading={busy} onClick={() => void startSetup()}>
          Set up an authenticator app
        </Button>
      )}

      <h3>Recovery codes</h3>
      {codes ? (
        <div>
          <p>
            Save these codes somewhere safe: each signs you in once if you lose your phone. They are
            shown only now.
          </p>
          <ul className="recovery-codes" aria-label="Recovery codes">
            {codes.map((c) => (
              <li key={c}>
                <code>{c}</code>
              </li>
            ))}
          </ul>
          <Button
            variant="secondary"
            onClick={() => void navigator.clipboard?.writeText(codes.join('\n'))}
          >
            Copy
          </Button>{' '}
          <Button variant="secondary" onClick={download}>
            Download
          </Button>{' '}
          <Button variant="link" onClick={() => setCodes(undefined)}>
            I saved them
          </Button>
        </div>
      ) : (
        <p>
          {status ? `${status.recoveryCodesRemaining} left. ` : null}
          {status?.totp || status?.passkeys.length ? (
            <Button
              variant="secondary"
              loading={busy}
              onClick={() =>
                void run(async () => {
                  setCodes(await api.mfa.regenerateRecoveryCodes());
                  refresh();
                })
              }
            >
              Make new recovery codes
            </Button>
          ) : null}
        </p>
      )}

      <h3>Passkeys</h3>
      <ul className="devices">
        {status?.passkeys.map((passkey) => (
          <li key={passkey.id} className="device" data-testid="passkey">
            <div>
              <strong>{passkey.name}</strong>
              <div className="hint">
                Added {dateTime(passkey.createdAt)}
                {passkey.lastUsedAt ? ` · last used ${dateTime(passkey.lastUsedAt)}` : ''}
              </div>
            </div>
            <div>
              <Button
                variant="secondary"
                aria-label={`Rename ${passkey.name}`}
                onClick={() => {
                  const name = window.prompt('New name of the passkey', passkey.name)?.trim();
                  if (name) {
                    void run(async () => {
                      await api.passkeys.rename(passkey.id, name);
                      refresh();
                    });
                  }
                }}
              >
                Rename
              </Button>{' '}
              <Button
                variant="danger"
                aria-label={`Remove ${passkey.name}`}
                onClick={() =>
                  void run(async () => {
                    await api.passkeys.remove(passkey.id);
                    toast('Passkey removed.');
                    refresh();
                  })
                }
              >
                Remove
              </Button>
            </div>
          </li>
        ))}
      </ul>
      <Button variant="secondary" loading={busy} onClick={() => void addPasskey()}>
        Add a passkey
      </Button>
    </section>
  );
}
