import { cleanup, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { retryText } from '../src/api.js';
import { preparePasswordCheck, setCommonPasswords } from '../src/password-strength.js';
import { fakeApi, problem, renderAt, user } from './helpers.js';

const STRONG = 'correct horse battery staple vortex';

beforeAll(async () => {
  setCommonPasswords(['passwordpassword1', 'iloveyouiloveyou']);
  await preparePasswordCheck();
});
afterEach(cleanup);

describe('register', () => {
  it('validates with the shared schemas, announces errors and focuses the first bad field', async () => {
    const api = fakeApi();
    renderAt('/register', api);
    const u = userEvent.setup();
    await u.type(screen.getByLabelText('Email'), 'not-an-email');
    await u.type(screen.getByLabelText('Password'), STRONG);
    await u.type(screen.getByLabelText('Confirm password'), `${STRONG}x`);
    await u.click(screen.getByRole('button', { name: 'Create account' }));
    const email = screen.getByLabelText('Email');
    expect(email.getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByText('Enter a valid email address.').getAttribute('role')).toBe('alert');
    expect(screen.getByText('The two passwords differ.')).toBeTruthy();
    expect(document.activeElement).toBe(email);
    expect(api.register).not.toHaveBeenCalled();
  });

  it('refuses a weak password before sending it, with the reason', async () => {
    const api = fakeApi();
    renderAt('/register', api);
    const u = userEvent.setup();
    await u.type(screen.getByLabelText('Email'), 'ada@example.com');
    await u.type(screen.getByLabelText('Password'), 'passwordpassword1');
    await u.type(screen.getByLabelText('Confirm password'), 'passwordpassword1');
    await u.click(screen.getByRole('button', { name: 'Create account' }));
    expect(await screen.findAllByText(/on a list of commonly used passwords/)).not.toHaveLength(0);
    expect(api.register).not.toHaveBeenCalled();
  });

  it('sends the form and goes to check-your-mail; shows a loading button meanwhile', async () => {
    const api = fakeApi();
    let answer: (value: { message: string }) => void = () => {};
    api.register.mockReturnValue(new Promise((resolve) => (answer = resolve)));
    renderAt('/register', api);
    const u = userEvent.setup();
    await u.type(screen.getByLabelText('Email'), ' ada@example.com ');
    await u.type(screen.getByLabelText('Name (optional)'), 'Ada');
    await u.type(screen.getByLabelText('Password'), STRONG);
    await u.type(screen.getByLabelText('Confirm password'), STRONG);
    await u.click(screen.getByRole('button', { name: 'Create account' }));
    const busy = await screen.findByRole('button', { name: /Creating your account/ });
    expect((busy as HTMLButtonElement).disabled).toBe(true);
    expect(busy.getAttribute('aria-busy')).toBe('true');
    answer({ message: 'Check your mail.' });
    expect(await screen.findByRole('heading', { name: 'Check your mail' })).toBeTruthy();
    expect(screen.getByText('ada@example.com')).toBeTruthy();
    expect(api.register).toHaveBeenCalledWith({
      email: 'ada@example.com',
      password: STRONG,
      name: 'Ada',
    });
  });

  it("shows the server's field message (the server stays the authority)", async () => {
    const api = fakeApi();
    api.register.mockRejectedValue(
      problem(400, 'weak_password', 'Weak', {
        errors: [{ field: 'password', message: 'This password has appeared in a data breach.' }],
      }),
    );
    renderAt('/register', api);
    const u = userEvent.setup();
    await u.type(screen.getByLabelText('Email'), 'ada@example.com');
    await u.type(screen.getByLabelText('Password'), STRONG);
    await u.type(screen.getByLabelText('Confirm password'), STRONG);
    await u.click(screen.getByRole('button', { name: 'Create account' }));
    expect(await screen.findByText('This password has appeared in a data breach.')).toBeTruthy();
    expect(document.activeElement).toBe(screen.getByLabelText('Password'));
  });
});

describe('strength meter', () => {
  async function typePassword(password: string, email = '') {
    renderAt('/register', fakeApi());
    const u = userEvent.setup();
    if (email) await u.type(screen.getByLabelText('Email'), email);
    await u.type(screen.getByLabelText('Password'), password);
  }

  it('says how many characters are missing', async () => {
    await typePassword('short words');
    expect(await screen.findByText(/Use at least 15 characters \(11 so far\)/)).toBeTruthy();
    expect(screen.getByText('Too weak')).toBeTruthy();
  });

  it('explains a guessable password', async () => {
    await typePassword('aaaaaaaaaaaaaaaaaaaa');
    expect(
      await screen.findByText(/too easy to guess: it repeats the same character/),
    ).toBeTruthy();
  });

  it('refuses a password built from the email, like the server', async () => {
    await typePassword('adalovelace-adalovelace', 'adalovelace@example.com');
    expect(await screen.findByText(/too close to your email address/)).toBeTruthy();
  });

  it('rates a long passphrase strong and is tied to the field', async () => {
    await typePassword(STRONG);
    await waitFor(() => expect(screen.getByText(/Strong|Very strong/)).toBeTruthy());
    const input = screen.getByLabelText('Password');
    const hintId = input.getAttribute('aria-describedby')?.split(' ')[0] ?? '';
    expect(document.getElementById(hintId)?.textContent).toMatch(/Password strength/);
  });
});

describe('sign in', () => {
  async function signIn(api = fakeApi(), password = 'wrong password here', path = '/login') {
    renderAt(path, api);
    const u = userEvent.setup();
    await u.type(screen.getByLabelText('Email'), 'ada@example.com');
    await u.type(screen.getByLabelText('Password'), password);
    await u.click(screen.getByRole('button', { name: 'Sign in' }));
    return u;
  }

  it('says plainly that the email or password is wrong', async () => {
    const api = fakeApi();
    api.login.mockRejectedValue(
      problem(401, 'invalid_credentials', 'The email or password is incorrect.'),
    );
    await signIn(api);
    const alert = await screen.findByText('The email or password is incorrect.');
    expect(alert.closest('[role="alert"]')).toBeTruthy();
    expect(document.activeElement).toBe(screen.getByLabelText('Password'));
  });

  it('offers to resend the link to an unverified address', async () => {
    const api = fakeApi();
    api.login.mockRejectedValue(problem(403, 'email_not_verified', 'Not verified.'));
    const u = await signIn(api, STRONG);
    expect(await screen.findByText(/not confirmed yet/)).toBeTruthy();
    await u.click(screen.getByRole('button', { name: 'Send a new confirmation link' }));
    expect(api.resendVerification).toHaveBeenCalledWith({ email: 'ada@example.com' });
    expect(await screen.findByText(/a new link is on its way/)).toBeTruthy();
  });

  it('tells when to try again after throttling (Retry-After)', async () => {
    const api = fakeApi();
    api.login.mockRejectedValue(
      problem(429, 'rate_limited', 'Too many.', { retryAfterSeconds: 120 }),
    );
    await signIn(api);
    expect(
      await screen.findByText(/Too many sign-in attempts\. Try again in 2 minutes \(at /),
    ).toBeTruthy();
    expect(retryText(5)).toBe('Try again in 5 seconds.');
  });

  it('signs in and opens the account page', async () => {
    const api = fakeApi();
    api.login.mockResolvedValue({ user });
    await signIn(api, STRONG);
    expect(await screen.findByRole('heading', { name: 'Your account' })).toBeTruthy();
    expect(screen.getAllByText(/Signed in as ada@example.com/).length).toBeGreaterThan(0);
  });

  it('goes on to ?next= after signing in', async () => {
    const api = fakeApi();
    api.login.mockResolvedValue({ user });
    await signIn(api, STRONG, `/login?next=${encodeURIComponent('/account#sessions')}`);
    expect(await screen.findByRole('heading', { name: 'Your account' })).toBeTruthy();
    expect(window.location.hash).toBe('#sessions');
  });

  it.each(['/\\evil.com', '//evil.com', 'https://evil.com'])(
    'ignores ?next=%s and opens the account page',
    async (next) => {
      const api = fakeApi();
      api.login.mockResolvedValue({ user });
      await signIn(api, STRONG, `/login?next=${encodeURIComponent(next)}`);
      expect(await screen.findByRole('heading', { name: 'Your account' })).toBeTruthy();
      expect(window.location.origin).toBe(new URL(document.baseURI).origin);
      expect(window.location.pathname).toBe('/account');
    },
  );

  it('sends a signed-in visitor of the sign-in page to a safe ?next= only', async () => {
    renderAt(`/login?next=${encodeURIComponent('/\\evil.com')}`, fakeApi(), user);
    expect(await screen.findByRole('heading', { name: 'Your account' })).toBeTruthy();
    expect(window.location.pathname).toBe('/account');
  });
});

describe('links from mails', () => {
  it('verify: takes the token out of the address bar and POSTs it only on the click', async () => {
    const api = fakeApi();
    api.verifyEmail.mockResolvedValue({ user });
    renderAt('/verify-email?token=abc123', api);
    expect(await screen.findByRole('heading', { name: 'Confirm your email address' })).toBeTruthy();
    await waitFor(() => expect(window.location.search).toBe(''));
    expect(api.verifyEmail).not.toHaveBeenCalled();
    await userEvent.setup().click(screen.getByRole('button', { name: 'Confirm my email address' }));
    expect(api.verifyEmail).toHaveBeenCalledWith({ token: 'abc123' });
    expect(await screen.findByText(/ada@example.com is confirmed/)).toBeTruthy();
  });

  it('verify: a sign-up link asks for the password chosen at sign-up and sends it with the token', async () => {
    const api = fakeApi();
    api.verifyEmail
      .mockRejectedValueOnce(
        problem(400, 'password_required', 'Enter the password you chose when you signed up.'),
      )
      .mockResolvedValueOnce({ user });
    renderAt('/verify-email?token=abc123', api);
    await waitFor(() => expect(window.location.search).toBe(''));
    expect(screen.queryByLabelText('Password')).toBeNull();
    const u = userEvent.setup();
    await u.click(screen.getByRole('button', { name: 'Confirm my email address' }));
    const field = await screen.findByLabelText('Password');
    expect(screen.getByText('Enter the password you chose when you signed up')).toBeTruthy();
    await u.type(field, STRONG);
    await u.click(screen.getByRole('button', { name: 'Confirm my email address' }));
    expect(api.verifyEmail).toHaveBeenLastCalledWith({ token: 'abc123', password: STRONG });
    expect(await screen.findByText(/ada@example.com is confirmed/)).toBeTruthy();
    expect(window.location.search).toBe('');
  });

  it("verify: a password no sign-up chose shows the server's explanation and lets the user retry", async () => {
    const api = fakeApi();
    const mismatch =
      'That is not the password this address was signed up with. If you did not sign up, ignore the mail, or set a password with "Forgot password".';
    api.verifyEmail
      .mockRejectedValueOnce(problem(400, 'password_required', 'Enter the password.'))
      .mockRejectedValueOnce(
        problem(400, 'password_mismatch', mismatch, {
          errors: [{ field: 'password', message: mismatch }],
        }),
      )
      .mockResolvedValueOnce({ user });
    renderAt('/verify-email?token=abc123', api);
    const u = userEvent.setup();
    await u.click(await screen.findByRole('button', { name: 'Confirm my email address' }));
    await u.type(await screen.findByLabelText('Password'), 'a wrong guess');
    await u.click(screen.getByRole('button', { name: 'Confirm my email address' }));
    expect((await screen.findAllByText(mismatch)).length).toBeGreaterThan(0);
    expect(screen.getByRole('link', { name: 'Forgot password' })).toBeTruthy();
    const field = screen.getByLabelText('Password');
    await u.clear(field);
    await u.type(field, STRONG);
    await u.click(screen.getByRole('button', { name: 'Confirm my email address' }));
    expect(api.verifyEmail).toHaveBeenLastCalledWith({ token: 'abc123', password: STRONG });
    expect(await screen.findByText(/ada@example.com is confirmed/)).toBeTruthy();
  });

  it('verify: the password field does not stand in the way of an empty submit', async () => {
    const api = fakeApi();
    api.verifyEmail.mockRejectedValueOnce(problem(400, 'password_required', 'Enter it.'));
    renderAt('/verify-email?token=abc123', api);
    const u = userEvent.setup();
    await u.click(await screen.findByRole('button', { name: 'Confirm my email address' }));
    await screen.findByLabelText('Password');
    await u.click(screen.getByRole('button', { name: 'Confirm my email address' }));
    expect(await screen.findByText('Enter your password.')).toBeTruthy();
    expect(api.verifyEmail).toHaveBeenCalledTimes(1);
  });

  it('reset: a used link says so; a good one saves the password', async () => {
    const api = fakeApi();
    api.resetPassword.mockRejectedValueOnce(problem(400, 'invalid_token', 'Invalid.'));
    renderAt('/reset-password?token=tok', api);
    await waitFor(() => expect(window.location.search).toBe(''));
    const u = userEvent.setup();
    await u.type(screen.getByLabelText('New password'), STRONG);
    await u.type(screen.getByLabelText('Confirm new password'), STRONG);
    await u.click(screen.getByRole('button', { name: 'Save the new password' }));
    expect(await screen.findByText(/invalid, used or expired/)).toBeTruthy();
    expect(api.resetPassword).toHaveBeenCalledWith({ token: 'tok', password: STRONG });
  });
});

describe('account', () => {
  it('lists devices and signs out the others', async () => {
    const api = fakeApi();
    const device = (id: string, current: boolean, name: string) => ({
      id,
      current,
      device: name,
      createdAt: '2026-11-20T08:00:00.000Z',
      lastSeenAt: '2026-11-21T08:00:00.000Z',
      ip: '127.0.0.1',
      userAgent: null,
    });
    api.listSessions
      .mockResolvedValueOnce({
        sessions: [
          device('0193a3c4-0000-7000-8000-00000000000a', true, 'Chrome 156 on Linux'),
          device('0193a3c4-0000-7000-8000-00000000000b', false, 'Firefox 140 on Windows 11'),
        ],
      })
      .mockResolvedValue({
        sessions: [device('0193a3c4-0000-7000-8000-00000000000a', true, 'Chrome 156 on Linux')],
      });
    api.revokeOtherSessions.mockResolvedValue(undefined);
    renderAt('/account', api, user);
    expect(await screen.findByText('Firefox 140 on Windows 11')).toBeTruthy();
    expect(screen.queryByRole('heading', { name: 'Recent security activity' })).toBeNull();
    const u = userEvent.setup();
    await u.click(screen.getByRole('button', { name: 'Sign out all other devices' }));
    // Asked first: nothing happens until the question is answered.
    expect(api.revokeOtherSessions).not.toHaveBeenCalled();
    await u.click(screen.getByRole('button', { name: 'Yes, sign them out' }));
    expect(await screen.findByText('Every other device was signed out.')).toBeTruthy();
    await waitFor(() => expect(screen.queryByText('Firefox 140 on Windows 11')).toBeNull());
  });

  it('a wrong current password is shown on its field', async () => {
    const api = fakeApi();
    api.changePassword.mockRejectedValue(problem(401, 'invalid_credentials', 'Wrong.'));
    renderAt('/account', api, user);
    const u = userEvent.setup();
    const [current] = await screen.findAllByLabelText('Current password'); // change-password's
    await u.type(current as HTMLElement, 'not it at all');
    await u.type(screen.getByLabelText('New password'), STRONG);
    await u.type(screen.getByLabelText('Confirm new password'), STRONG);
    await u.click(screen.getByRole('button', { name: 'Change password' }));
    expect(await screen.findByText('This is not your current password.')).toBeTruthy();
  });

  it('sends signed-out people to sign-in', async () => {
    renderAt('/account', fakeApi(), null);
    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeTruthy();
    expect(window.location.search).toBe('?next=%2Faccount');
  });
});
