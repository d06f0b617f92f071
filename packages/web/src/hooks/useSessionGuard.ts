import { useCallback } from 'react';
import { LatchkeyError } from '../api.js';
import { useApp } from '../app-context.js';

/** A 401 anywhere on a signed-in page means the session is over: back to sign-in. */
export function useSessionGuard(): (error: unknown) => boolean {
  const { setUser } = useApp();
  return useCallback(
    (error: unknown) => {
      if (error instanceof LatchkeyError && error.status === 401) {
        setUser(null);
        return true;
      }
      return false;
    },
    [setUser],
  );
}
