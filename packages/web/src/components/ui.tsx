import {
  type ComponentPropsWithoutRef,
  type ComponentPropsWithRef,
  forwardRef,
  type ReactNode,
  useEffect,
  useId,
  useRef,
} from 'react';

type InputProps = ComponentPropsWithoutRef<'input'> & {
  label: string;
  error?: string | undefined;
  hint?: ReactNode;
};

/** A labelled input whose error is tied to it (aria-invalid, aria-describedby) and announced. */
export const Field = forwardRef<HTMLInputElement, InputProps>(function Field(
  { label, error, hint, id, ...input },
  ref,
) {
  const generated = useId();
  const inputId = id ?? generated;
  const hintId = `${inputId}-hint`;
  const errorId = `${inputId}-error`;
  const describedBy = [hint ? hintId : null, error ? errorId : null].filter(Boolean).join(' ');
  return (
    <div className="field">
      <label htmlFor={inputId}>{label}</label>
      <input
        ref={ref}
        id={inputId}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy || undefined}
        {...input}
      />
      {hint ? (
        <div id={hintId} className="hint">
          {hint}
        </div>
      ) : null}
      <p id={errorId} className="field-error" role="alert">
        {error ?? ''}
      </p>
    </div>
  );
});

/** A button that shows it is working and cannot be pressed twice meanwhile. */
export function Button({
  loading = false,
  loadingText,
  children,
  variant = 'primary',
  ...rest
}: ComponentPropsWithRef<'button'> & {
  loading?: boolean;
  loadingText?: string;
  variant?: 'primary' | 'secondary' | 'danger' | 'link';
}) {
  return (
    <button
      type="button"
      {...rest}
      className={`button ${variant} ${rest.className ?? ''}`.trim()}
      disabled={loading || rest.disabled}
      aria-busy={loading || undefined}
    >
      {loading ? (
        <>
          <span className="spinner" aria-hidden="true" />
          {loadingText ?? children}
        </>
      ) : (
        children
      )}
    </button>
  );
}

/** A form's overall result or error, read out by screen readers when it changes. */
export function FormAlert({
  message,
  kind = 'error',
  children,
}: {
  message?: string | undefined;
  kind?: 'error' | 'info' | 'success';
  children?: ReactNode;
}) {
  return (
    <div
      className={`alert ${message || children ? kind : 'empty'}`}
      role={kind === 'error' ? 'alert' : 'status'}
      aria-live={kind === 'error' ? 'assertive' : 'polite'}
    >
      {message}
      {children}
    </div>
  );
}

/** The page's heading, focused when the page opens so keyboard and screen-reader users start there. */
export function PageTitle({ children }: { children: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus();
    document.title = `${typeof children === 'string' ? children : ''}${typeof children === 'string' ? ' — ' : ''}${document.title.split(' — ').at(-1) ?? ''}`;
  }, [children]);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  );
}
