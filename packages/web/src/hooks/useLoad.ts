import { type DependencyList, useCallback, useEffect, useRef, useState } from 'react';

export interface Loaded<T> {
  /** The last answer; kept while a reload runs, so lists do not flicker. */
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Loads again (after an action changed what is shown). */
  reload(): void;
}

/**
 * Runs `load` when `deps` change (and on `reload()`), keeping only the newest answer: a change
 * or an unmount aborts the run before it, so a slow old answer never overwrites a newer one.
 */
export function useLoad<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: DependencyList,
): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const [round, setRound] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    const controller = new AbortController();
    setState((current) => ({ ...current, loading: true }));
    loadRef.current(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ data, error: undefined, loading: false });
      },
      (error: unknown) => {
        if (!controller.signal.aborted)
          setState((current) => ({ ...current, error, loading: false }));
      },
    );
    return () => controller.abort();
    // The caller's deps decide when to load again (`load` itself is a new function each render).
  }, [...deps, round]);

  const reload = useCallback(() => setRound((n) => n + 1), []);
  return { ...state, reload };
}
