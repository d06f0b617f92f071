import type { AuditEvent } from '@latchkey/sdk';
import { cleanup, screen, waitFor, within } from '@testing-library/react';
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
    api.admin.listUsers.mockImplementation(async (query = {}) => {
      if (query.cursor === 'c2') return { users: [row(3)], nextCursor: null };
      if (query.q === 'user1') return { users: [row(1)], nextCursor: null };
      return { users: [row(1), row(2)], nextCursor: 'c2' };
    });
    renderAt('/admin', api, admin);
    expect(await screen.findByRole('link', { name: 'user1@example.com' })).toBeTruthy();
    expect(screen.getByText('disabled')).toBeTruthy();
    const u = userEvent.setup();
    await u.click(screen.getByRole('button', { name: 'Next page' }));
    expect(await screen.findByRole('link', { name: 'user3@example.com' })).toBeTruthy();
    expect(api.admin.listUsers).toHaveBeenLastCalledWith({ cursor: 'c2', limit: 20 });
    await u.click(screen.getByRole('button', { name: 'Previous page' }));
    expect(await screen.findByRole('link', { name: 'user2@example.com' })).toBeTruthy();
    await u.type(screen.getByLabelText('Search by email'), 'user1');
    await u.click(screen.getByRole('button', { name: 'Search' }));
    await waitFor(() =>
      expect(screen.queryByRole('link', { name: 'user2@example.com' })).toBeNull(),
    );
    expect(api.admin.listUsers).toHaveBeenLastCalledWith({ q: 'user1', limit: 20 });
  });

  it('is not offered to people without the admin role', async () => {
    renderAt('/admin', fakeApi(), user);
    expect(await screen.findByRole('heading', { name: 'Not allowed' })).toBeTruthy();
  });
});

describe('admin user and audit events', () => {
  const target = row(5); // not the signed-in admin (row 1 has the admin's id)
  const auditEvent = (n: number, type: string, data: AuditEvent['data'] = {}): AuditEvent => ({
    id: `0193a3c4-0000-7000-9000-${String(n).padStart(12, '0')}`,
    type,
    userId: target.id,
    actorId: admin.id,
    ip: '127.0.0.1',
    userAgent: null,
    data,
    createdAt: '2026-11-21T08:00:00.000Z',
    userEmail: target.email,
    actorEmail: admin.email,
  });

  /** A fake admin API: one user, audit events that grow with every action on them. */
  function adminServer() {
    const api = fakeApi();
    let disabled = false;
    const events = [auditEvent(1, 'user.roles_changed', { from: [], to: ['support'] })];
    api.admin.auditEvents.mockImplementation(async () => ({
      events: [...events],
      nextCursor: null,
    }));
    api.admin.listRoles.mockResolvedValue({ roles: [], permissions: [] });
    api.admin.getUser.mockImplementation(async () => ({
      user: { ...target, disabled },
      sessions: [],
    }));
    api.admin.updateUser.mockImplementation(async () => {
      disabled = true;
      events.unshift(auditEvent(2, 'user.disabled', { revokedSessions: 1 }));
      return { ...target, disabled };
    });
    api.admin.revokeUserSessions.mockImplementation(async () => {
      events.unshift(auditEvent(3, 'admin.sessions_revoked'));
    });
    return api;
  }

  it("shows each event's label, the user's and the actor's email, and the event's data", async () => {
    const api = adminServer();
    renderAt(`/admin?user=${target.id}`, api, admin);
    const table = await screen.findByRole('table');
    const cells = await within(table).findAllByRole('cell');
    const text = cells.map((cell) => cell.textContent);
    const event = within(table).getByText('Roles changed').closest('td') as HTMLElement;
    expect(within(event).getByText('user.roles_changed')).toBeTruthy();
    expect(within(event).getByText('from: (none) · to: support')).toBeTruthy();
    expect(within(table).getByRole('link', { name: target.email })).toBeTruthy();
    expect(within(table).getByRole('link', { name: admin.email })).toBeTruthy();
    expect(text.some((t) => t?.includes(target.id.slice(0, 8)) && t.length === 8)).toBe(false);
    expect(api.admin.getUser).toHaveBeenCalledWith(target.id);
    expect(api.admin.auditEvents).toHaveBeenCalledWith({ userId: target.id, limit: 25 });
  });

  it('asks before disabling, then refreshes the audit list', async () => {
    const api = adminServer();
    renderAt(`/admin?user=${target.id}`, api, admin);
    const u = userEvent.setup();
    await u.click(await screen.findByRole('button', { name: 'Disable user' }));
    const question = screen.getByRole('alertdialog');
    expect(question.textContent).toContain(`Disable ${target.email}?`);
    expect(document.activeElement).toBe(
      within(question).getByRole('button', { name: 'Yes, disable' }),
    );
    // Cancel does nothing and gives focus back.
    await u.click(within(question).getByRole('button', { name: 'Cancel' }));
    expect(api.admin.updateUser).not.toHaveBeenCalled();
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Disable user' }));
    await u.click(screen.getByRole('button', { name: 'Disable user' }));
    await u.click(screen.getByRole('button', { name: 'Yes, disable' }));
    expect(api.admin.updateUser).toHaveBeenCalledWith(target.id, { disabled: true });
    expect(await screen.findByText('User disabled and signed out everywhere.')).toBeTruthy();
    expect(await screen.findByText('Account disabled')).toBeTruthy();
    expect(await screen.findByRole('button', { name: 'Enable user' })).toBeTruthy();
  });

  it('asks before signing the user out everywhere; Escape cancels', async () => {
    const api = adminServer();
    renderAt(`/admin?user=${target.id}`, api, admin);
    const u = userEvent.setup();
    await u.click(await screen.findByRole('button', { name: 'Sign out everywhere' }));
    await u.keyboard('{Escape}');
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(api.admin.revokeUserSessions).not.toHaveBeenCalled();
    await u.click(screen.getByRole('button', { name: 'Sign out everywhere' }));
    await u.click(screen.getByRole('button', { name: 'Yes, sign out everywhere' }));
    expect(api.admin.revokeUserSessions).toHaveBeenCalledWith(target.id);
    expect(await screen.findByText('Every device signed out by an administrator')).toBeTruthy();
  });
});
