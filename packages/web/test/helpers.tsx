import { type DeviceSession, LatchkeyError, type LatchkeyClient, type User } from '@latchkey/sdk';
import { render } from '@testing-library/react';
import { BrowserRouter } from 'react-router';
import { vi } from 'vitest';
import { AppRoutes } from '../src/App.js';
import { AppProvider } from '../src/app-context.js';
import { ToastProvider } from '../src/components/toast.js';
import { defaultConfig } from '../src/config.js';

export const user: User = {
  id: '0193a3c4-0000-7000-8000-000000000001',
  email: 'ada@example.com',
  name: 'Ada',
  emailVerified: true,
  roles: [],
  createdAt: '2026-11-20T08:00:00.000Z',
};

/** A client whose every method is a mock (answers set per test). */
export function fakeApi() {
  const api = {
    register: vi.fn(),
    verifyEmail: vi.fn(),
    resendVerification: vi.fn(async () => ({ message: 'sent' })),
    login: vi.fn(),
    logout: vi.fn(async () => undefined),
    me: vi.fn(async () => {
      throw new LatchkeyError(401, 'unauthenticated', 'Sign in first.');
    }),
    forgotPassword: vi.fn(),
    resetPassword: vi.fn(),
    changePassword: vi.fn(),
    changeEmail: vi.fn(),
    listSessions: vi.fn(async (): Promise<{ sessions: DeviceSession[] }> => ({ sessions: [] })),
    revokeSession: vi.fn(),
    revokeOtherSessions: vi.fn(),
    request: vi.fn(async (_method: string, _path: string, _options?: unknown): Promise<unknown> => {
      throw new LatchkeyError(404, 'not_found', 'Nothing here.');
    }),
  };
  return api;
}

export type FakeApi = ReturnType<typeof fakeApi>;

/** Renders the whole app at `path` (window.location, as in a browser). */
export function renderAt(path: string, api: FakeApi, signedIn: User | null = null) {
  window.history.replaceState(null, '', path);
  return render(
    <AppProvider
      api={api as unknown as LatchkeyClient}
      config={defaultConfig}
      initialUser={signedIn}
    >
      <ToastProvider>
        <BrowserRouter>
          <AppRoutes />
        </BrowserRouter>
      </ToastProvider>
    </AppProvider>,
  );
}

export const problem = (status: number, code: string, detail: string, extra: object = {}) =>
  new LatchkeyError(status, code, detail, {
    problem: { type: `urn:latchkey:problem:${code}`, title: 'x', status, code, detail, ...extra },
    ...('retryAfterSeconds' in extra
      ? { retryAfterSeconds: extra.retryAfterSeconds as number }
      : {}),
  });
