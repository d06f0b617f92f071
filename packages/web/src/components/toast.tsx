import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useMemo,
  useRef,
  useState,
} from 'react';

export type ToastKind = 'success' | 'error' | 'info';
interface Toast {
  id: number;
  message: string;
  kind: ToastKind;
}

const ToastContext = createContext<(message: string, kind?: ToastKind) => void>(() => {});
// Apart from the `show` function, so that showing a toast re-renders only the outlet.
const ToastListContext = createContext<{ toasts: Toast[]; dismiss(id: number): void }>({
  toasts: [],
  dismiss: () => {},
});

export function useToast() {
  return useContext(ToastContext);
}

/** Short results ("Password changed"), announced politely and gone after a few seconds. */
export function ToastProvider({
  children,
  timeoutMs = 6000,
}: {
  children: ReactNode;
  timeoutMs?: number;
}) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(1);
  const dismiss = useCallback(
    (id: number) => setToasts((all) => all.filter((t) => t.id !== id)),
    [],
  );
  const show = useCallback(
    (message: string, kind: ToastKind = 'success') => {
      const id = next.current++;
      setToasts((all) => [...all.slice(-3), { id, message, kind }]);
      setTimeout(() => dismiss(id), timeoutMs);
    },
    [dismiss, timeoutMs],
  );
  const list = useMemo(() => ({ toasts, dismiss }), [toasts, dismiss]);
  return (
    <ToastContext.Provider value={show}>
      <ToastListContext.Provider value={list}>{children}</ToastListContext.Provider>
    </ToastContext.Provider>
  );
}

/**
 * Where the toasts show: the layout puts it between the header and the page, in the flow, so
 * a toast never covers a control (on wide screens CSS floats it into the empty margin).
 */
export function ToastOutlet() {
  const { toasts, dismiss } = useContext(ToastListContext);
  return (
    <div className="toasts" role="status" aria-live="polite">
      {toasts.map((toast) => (
        <div key={toast.id} className={`toast ${toast.kind}`}>
          <span>{toast.message}</span>
          <button
            type="button"
            className="toast-close"
            aria-label="Dismiss"
            onClick={() => dismiss(toast.id)}
          >
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
