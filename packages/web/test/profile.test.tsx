import { cleanup, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeApi, problem, renderAt, user } from './helpers.js';

afterEach(cleanup);

async function openProfile(api = fakeApi()) {
  renderAt('/account', api, user);
  const profile = await screen.findByRole('region', { name: 'Profile' });
  const field = within(profile).getByLabelText('Display name');
  return { api, profile, field, u: userEvent.setup() };
}

describe('profile: your own name', () => {
  it('saves the name, shows it at once and says so; the activity list loads again', async () => {
    const api = fakeApi();
    const updated = {
      id: '0193a3c4-0000-7000-9000-000000000001',
      type: 'user.updated',
      createdAt: '2026-11-21T08:00:00.000Z',
      ip: '127.0.0.1',
      userAgent: null,
      device: 'Firefox 140 on Linux',
      byAdmin: false,
    };
    api.activity
      .mockResolvedValueOnce({ events: [], nextCursor: null })
      .mockResolvedValue({ events: [updated], nextCursor: null });
    api.updateMe.mockImplementation(async ({ name }) => ({ ...user, name }));
    const { profile, field, u } = await openProfile(api);
    expect(await screen.findByText('Nothing yet.')).toBeTruthy();
    expect((field as HTMLInputElement).value).toBe('Ada');
    await u.clear(field);
    await u.type(field, '  Ada Lovelace ');
    await u.click(within(profile).getByRole('button', { name: 'Save name' }));
    expect(await screen.findByText('Name saved.')).toBeTruthy();
    // The contract's rule trims the name before it is sent.
    expect(api.updateMe).toHaveBeenCalledExactlyOnceWith({ name: 'Ada Lovelace' });
    // The signed-in user in the app's state is the server's answer.
    expect(within(profile).getByText('Ada Lovelace').tagName).toBe('DD');
    expect(within(profile).queryByText('Ada')).toBeNull();
    expect((field as HTMLInputElement).value).toBe('Ada Lovelace');
    expect(field.getAttribute('aria-invalid')).toBeNull();
    expect(await screen.findByText('Profile updated')).toBeTruthy();
    expect(api.activity).toHaveBeenLastCalledWith({ limit: 10 });
  });

  it("shows the server's field message on the field and keeps the old name", async () => {
    const { api, profile, field, u } = await openProfile();
    api.updateMe.mockRejectedValue(
      problem(400, 'validation_failed', 'The request is invalid: see errors for each field.', {
        errors: [{ field: 'name', message: 'A name cannot contain control characters.' }],
      }),
    );
    await u.clear(field);
    await u.type(field, 'Ada Byron');
    await u.click(within(profile).getByRole('button', { name: 'Save name' }));
    const message = await within(profile).findByText('A name cannot contain control characters.');
    expect(message.getAttribute('role')).toBe('alert');
    expect(field.getAttribute('aria-invalid')).toBe('true');
    expect(field.getAttribute('aria-describedby')).toBe(message.id);
    expect(document.activeElement).toBe(field);
    expect(api.updateMe).toHaveBeenCalledWith({ name: 'Ada Byron' });
    expect(within(profile).getByText('Ada').tagName).toBe('DD');
    expect(screen.queryByText('Name saved.')).toBeNull();
  });

  it('asks for a name before sending an empty one', async () => {
    const { api, profile, field, u } = await openProfile();
    await u.clear(field);
    await u.type(field, '   ');
    await u.click(within(profile).getByRole('button', { name: 'Save name' }));
    expect(await within(profile).findByText('Enter a name.')).toBeTruthy();
    expect(field.getAttribute('aria-invalid')).toBe('true');
    expect(api.updateMe).not.toHaveBeenCalled();
  });
});
