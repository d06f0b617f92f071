import type { LatchkeyClient, User } from '@latchkey/sdk';
import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
} from 'react';
import { LatchkeyError } from './api.js';
import type { WebConfig } from './config.js';

interface AppState {
  api: LatchkeyClient;
  config: WebConfig;
  /** undefined while the first `me()` runs; null when signed out. */
  user: User | null | undefined;
  setUser(user: User | null): void;
  /** Asks the server again (e.g. after a 401 elsewhere). */
  refreshUser(): Promise<User | null>;
}

const Context = createContext<AppState | null>(null);

export function useApp(): AppState {
  const state = useContext(Context);
  if (!state) throw new Error('useApp outside <AppProvider>');
  return state;
}

export function AppProvider({
  api,
  config,
  children,
  initialUser,
}: {
  api: LatchkeyClient;
  config: WebConfig;
  children: ReactNode;
  /** Tests: skip the first `me()`. */
  initialUser?: User | null;
}) {
  const [user, setUser] = useState<User | null | undefined>(initialUser);
  const refreshUser = useCallback(async () => {
    try {
      const { user: me } = await api.me();
      setUser(me);
      return me;
    } catch (error) {
      if (error instanceof LatchkeyError && error.status === 401) {
        setUser(null);
        return null;
      }
      setUser((current) => current ?? null);
      return null;
    }
  }, [api]);
  useEffect(() => {
    if (initialUser === undefined) void refreshUser();
  }, [initialUser, refreshUser]);
  const value = useMemo(
    () => ({ api, config, user, setUser, refreshUser }),
    [api, config, user, refreshUser],
  );
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export const isAdmin = (user: User | null | undefined) => Boolean(user?.roles.includes('admin'));
