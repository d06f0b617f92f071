import { useState } from 'react';
import { describeError } from '../api.js';
import { useApp } from '../app-context.js';
import { useToast } from './toast.js';
import { Button, FormAlert } from './ui.js';

/** "Send the link again", for check-your-mail and sign-in (unverified address). */
export function ResendButton({
  email,
  label = 'Send the link again',
}: {
  email: string;
  label?: string;
}) {
  const { api } = useApp();
  const toast = useToast();
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string>();
  return (
    <div className="resend">
      <Button
        variant="secondary"
        loading={busy}
        loadingText="Sending…"
        onClick={async () => {
          setBusy(true);
          try {
            await api.resendVerification({ email });
            setMessage(
              `If ${email} has an account waiting for confirmation, a new link is on its way.`,
            );
            toast('Verification link sent.');
          } catch (error) {
            setMessage(describeError(error));
          } finally {
            setBusy(false);
          }
        }}
      >
        {label}
      </Button>
      <FormAlert kind="info" message={message} />
    </div>
  );
}
