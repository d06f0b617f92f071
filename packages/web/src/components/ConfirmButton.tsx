import { type ReactNode, useEffect, useId, useRef, useState } from 'react';
import { Button } from './ui.js';

/**
 * A button for something hard to undo: the first press asks, in place, and only "confirm"
 * acts. Inline rather than window.confirm (which blocks the page and cannot be styled or
 * tested) or a modal (nothing else on the page needs to be locked meanwhile). The question is
 * announced, focus goes to it, Escape or "Cancel" puts focus back on the button.
 */
export function ConfirmButton({
  children,
  question,
  confirmLabel,
  onConfirm,
  loading = false,
  loadingText,
  disabled,
  variant = 'danger',
}: {
  children: ReactNode;
  question: ReactNode;
  confirmLabel: string;
  onConfirm(): void | Promise<unknown>;
  loading?: boolean;
  loadingText?: string;
  disabled?: boolean;
  variant?: 'primary' | 'secondary' | 'danger';
}) {
  const [asking, setAsking] = useState(false);
  const questionId = useId();
  const trigger = useRef<HTMLButtonElement>(null);
  const confirm = useRef<HTMLButtonElement>(null);
  const wasAsking = useRef(false);
  useEffect(() => {
    if (asking) confirm.current?.focus();
    else if (wasAsking.current) trigger.current?.focus();
    wasAsking.current = asking;
  }, [asking]);

  if (!asking) {
    return (
      <Button
        ref={trigger}
        variant={variant}
        loading={loading}
        {...(loadingText ? { loadingText } : {})}
        disabled={disabled}
        onClick={() => setAsking(true)}
      >
        {children}
      </Button>
    );
  }
  return (
    <div
      className="confirm"
      role="alertdialog"
      aria-modal="false"
      aria-labelledby={questionId}
      onKeyDown={(event) => {
        if (event.key === 'Escape') setAsking(false);
      }}
    >
      <p id={questionId}>{question}</p>
      <div className="row">
        <Button
          ref={confirm}
          variant={variant === 'secondary' ? 'primary' : variant}
          onClick={() => {
            setAsking(false);
            void onConfirm();
          }}
        >
          {confirmLabel}
        </Button>
        <Button variant="secondary" onClick={() => setAsking(false)}>
          Cancel
        </Button>
      </div>
    </div>
  );
}
