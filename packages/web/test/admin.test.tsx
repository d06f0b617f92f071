import { cleanup, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeApi, renderAt, user } from './helpers.js';

const admin = { ...user, roles: ['admin'] };
const row = (n: number) => ({
  ...user,
  id: `0193a3c4-0000-7000-8000-${String(n).padStart(12, '0')}`,
  email: `user${n}@example.com`,
  disabled: n === 2,
  disabledAt: null,
});

afterEach(cleanup);

describe('admin users', () => {
  it('lists users, searches and pages with the cursor', async () => {
    const api = fakeApi();
    api.request.mockImplementation(async (_method: string, path: string) => {
      if (path.includes('cursor=c2')) return { users: [row(3)], nextCursor: null };
      if (path.includes('q=user1')) return { users: [row(1)], nextCursor: null };
      return { users: [row(1), row(2)], nextCursor: 'c2' };
    });
    renderAt('/admin', api, admin);
    expect(await screen.findByRole('link', { name: 'user1@example.com' })).toBeTruthy();
    expect(screen.getByText('disabled')).toBeTruthy();
    const u = userEvent.setup();
    await u.click(screen.getByRole('button', { name: 'Next page' }));
    expect(await screen.findByRole('link', { name: 'user3@example.com' })).toBeTruthy();
    expect(api.request).toHaveBeenLastCalledWith('GET', '/admin/users?cursor=c2&limit=20', {
      schema: expect.anything(),
    });
    await u.click(screen.getByRole('button', { name: 'Previous page' }));
    expect(await screen.findByRole('link', { name: 'user2@example.com' })).toBeTruthy();
    await u.type(screen.getByLabelText('Search by email'), 'user1');
    await u.click(screen.getByRole('button', { name: 'Search' }));
    await waitFor(() =>
      expect(screen.queryByRole('link', { name: 'user2@example.com' })).toBeNull(),
    );
  });

  it('is not offered to people without the admin role', async () => {
    renderAt('/admin', fakeApi(), user);
    expect(await screen.findByRole('heading', { name: 'Not allowed' })).toBeTruthy();
  });
});
