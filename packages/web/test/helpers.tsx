import { createClient, LatchkeyError, type User } from '@latchkey/sdk';
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

/**
 * Replaces every method of `target` (its class's, public and private alike) with a mock that
 * rejects, naming the method, until a test gives it an answer: nothing reaches the network.
 */
function mockEveryMethod(target: object, label: string) {
  const prototype = Object.getPrototypeOf(target) as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(prototype)) {
    if (name === 'constructor' || typeof prototype[name] !== 'function') continue;
    vi.spyOn(target as Record<string, () => Promise<unknown>>, name).mockImplementation(
      async () => {
        throw new Error(`fakeApi: ${label}.${name}() has no answer in this test`);
      },
    );
  }
}

/**
 * A real `LatchkeyClient` whose every method, `admin`'s included, is a mock (answers set per
 * test). The pages get it as the client it is, without a cast, and its mocks have the SDK's
 * signatures: a test that uses a method the SDK renamed or removed, or answers with the wrong
 * shape, does not compile.
 */
export function fakeApi() {
  const client = createClient({
    baseUrl: 'http://latchkey.invalid',
    fetch: async () => {
      throw new Error('fakeApi: no network in component tests');
    },
  });
  mockEveryMethod(client, 'api');
  mockEveryMethod(client.admin, 'api.admin');
  mockEveryMethod(client.mfa, 'api.mfa');
  mockEveryMethod(client.passkeys, 'api.passkeys');
  const api = vi.mocked(client, true);
  api.mfa.status.mockResolvedValue({
    totp: null,
    recoveryCodesRemaining: 0,
    passkeys: [],
    required: false,
  });
  api.me.mockRejectedValue(new LatchkeyError(401, 'unauthenticated', 'Sign in first.'));
  api.logout.mockResolvedValue(undefined);
  api.resendVerification.mockResolvedValue({ message: 'sent' });
  api.listSessions.mockResolvedValue({ sessions: [] });
  // A server without the activity endpoint: the account page hides that section.
  api.activity.mockRejectedValue(new LatchkeyError(404, 'not_found', 'Nothing here.'));
  return api;
}

export type FakeApi = ReturnType<typeof fakeApi>;

/** Renders the whole app at `path` (window.location, as in a browser). */
export function renderAt(path: string, api: FakeApi, signedIn: User | null = null) {
  window.history.replaceState(null, '', path);
  return render(
    <AppProvider api={api} config={defaultConfig} initialUser={signedIn}>
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
