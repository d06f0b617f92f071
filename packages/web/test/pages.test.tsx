import { cleanup, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Email } from '../src/components/Email.js';
import { preparePasswordCheck, setCommonPasswords } from '../src/password-strength.js';
import { fakeApi, renderAt, user } from './helpers.js';

beforeAll(async () => {
  setCommonPasswords(['passwordpassword1']);
  await preparePasswordCheck();
});
afterEach(cleanup);

describe('what a newcomer saw', () => {
  it('the reset page says a too-short password once, on the field', async () => {
    const api = fakeApi();
    renderAt('/reset-password?token=tok', api);
    await waitFor(() => expect(window.location.search).toBe(''));
    const u = userEvent.setup();
    await u.type(screen.getByLabelText('New password'), 'short words');
    await u.type(screen.getByLabelText('Confirm new password'), 'short words');
    await u.click(screen.getByRole('button', { name: 'Save the new password' }));
    const message = /Use at least 15 characters \(11 so far\)/;
    await waitFor(() => expect(screen.getAllByText(message)).toHaveLength(1));
    expect(screen.getByText(message).getAttribute('role')).toBe('alert');
    expect(screen.getByLabelText('New password').getAttribute('aria-invalid')).toBe('true');
    expect(api.resetPassword).not.toHaveBeenCalled();
  });

  it('an address that matches no page shows "Page not found"', async () => {
    renderAt('/no/such/page', fakeApi());
    expect(await screen.findByRole('heading', { name: 'Page not found' })).toBeTruthy();
    expect(screen.getByRole('link', { name: 'Go to the start page' })).toBeTruthy();
  });

  it('toasts sit in the flow between the header and the page, covering nothing', async () => {
    const api = fakeApi();
    api.login.mockResolvedValue({ user });
    renderAt('/login', api);
    const u = userEvent.setup();
    await u.type(screen.getByLabelText('Email'), 'ada@example.com');
    await u.type(screen.getByLabelText('Password'), 'correct horse battery staple vortex');
    await u.click(screen.getByRole('button', { name: 'Sign in' }));
    const toast = await screen.findByText('Signed in as ada@example.com.');
    const stack = toast.closest('.toasts') as HTMLElement;
    expect(stack.previousElementSibling?.tagName).toBe('HEADER');
    expect(stack.nextElementSibling?.tagName).toBe('MAIN');
  });

  it('emails may wrap after the @ and before a dot, and read as one address', () => {
    const { container } = render(<Email address="ada.lovelace@mail.example.com" />);
    const email = container.querySelector('.email') as HTMLElement;
    expect(email.textContent).toBe('ada.lovelace@mail.example.com');
    expect(email.innerHTML).toBe('ada.lovelace@<wbr>mail<wbr>.example<wbr>.com');
    const cell = render(<Email address="ada@example.com" truncate />).container;
    expect(cell.querySelector('.email.truncate')?.getAttribute('title')).toBe('ada@example.com');
  });
});
