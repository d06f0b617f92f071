import { cleanup, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeApi, problem, renderAt, user } from './helpers.js';

afterEach(cleanup);

describe('two-step sign-in pages', () => {
  it('leads from the password to the code, which is typed as a one-time code', async () => {
    const api = fakeApi();
    api.login.mockResolvedValue({ mfaRequired: true, methods: ['totp', 'recovery'] });
    api.mfa.verify
      .mockRejectedValueOnce(problem(401, 'invalid_code', 'That code is not right.'))
      .mockResolvedValue({ user });
    renderAt('/login', api);
    const u = userEvent.setup();
    await u.type(screen.getByLabelText('Email'), 'ada@example.com');
    await u.type(screen.getByLabelText('Password'), 'correct horse battery staple vortex');
    await u.click(screen.getByRole('button', { name: 'Sign in' }));

    const field = await screen.findByLabelText('Code from your authenticator app');
    expect(window.location.pathname).toBe('/two-step');
    expect(field.getAttribute('autocomplete')).toBe('one-time-code');
    expect(field.getAttribute('inputmode')).toBe('numeric');
    expect(screen.queryByRole('button', { name: 'Use a passkey' })).toBeNull();

    await u.type(field, '123456');
    await u.click(screen.getByRole('button', { name: 'Continue' }));
    expect(await screen.findByText('That code is not right. Check it and try again.')).toBeTruthy();
    await u.clear(field);
    await u.type(field, '654321');
    await u.click(screen.getByRole('button', { name: 'Continue' }));
    expect(await screen.findByText('Signed in as ada@example.com.')).toBeTruthy();
    expect(api.mfa.verify).toHaveBeenLastCalledWith({ method: 'totp', code: '654321' });
  });

  it('takes a recovery code instead, and says when the pending sign-in expired', async () => {
    const api = fakeApi();
    api.mfa.verify.mockRejectedValue(problem(401, 'mfa_session_expired', 'Expired.'));
    renderAt('/two-step', api);
    const u = userEvent.setup();
    await u.click(await screen.findByRole('button', { name: 'Use a recovery code instead' }));
    await u.type(screen.getByLabelText('Recovery code'), 'abcd-efgh-jkmn');
    await u.click(screen.getByRole('button', { name: 'Continue' }));
    expect(
      await screen.findByText('This sign-in has expired. Sign in with your password again.'),
    ).toBeTruthy();
    expect(api.mfa.verify).toHaveBeenCalledWith({ method: 'recovery', code: 'abcd-efgh-jkmn' });
  });

  it('sets up the app on the account page, shows the recovery codes once, asks for the password when needed', async () => {
    const api = fakeApi();
    api.mfa.setupTotp
      .mockRejectedValueOnce(problem(403, 'reauthentication_required', 'Confirm it is you.'))
      .mockResolvedValue({
        secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
        otpauthUrl: 'otpauth://totp/x',
        qrSvg: '<svg xmlns="http://www.w3.org/2000/svg"></svg>',
      });
    api.mfa.reauthenticate.mockResolvedValue(undefined);
    api.mfa.confirmTotp.mockResolvedValue(['aaaa-bbbb-cccc', 'dddd-eeee-ffff']);
    renderAt('/account', api, user);
    const u = userEvent.setup();
    const section = within(
      (await screen.findByRole('heading', { name: 'Two-step sign-in' })).closest(
        'section',
      ) as HTMLElement,
    );
    await u.click(section.getByRole('button', { name: 'Set up an authenticator app' }));
    await u.type(
      await section.findByLabelText('Your password'),
      'correct horse battery staple vortex',
    );
    await u.click(section.getByRole('button', { name: 'Confirm' }));
    expect(api.mfa.reauthenticate).toHaveBeenCalledWith({
      password: 'correct horse battery staple vortex',
    });
    expect(await section.findByAltText("QR code of the authenticator app's key")).toBeTruthy();
    expect(section.getByTestId('totp-secret').textContent).toBe(
      'JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP',
    );
    const code = section.getByLabelText('Code from the app');
    expect(code.getAttribute('autocomplete')).toBe('one-time-code');
    await u.type(code, '123456');
    await u.click(section.getByRole('button', { name: 'Turn on' }));
    const codes = await section.findByRole('list', { name: 'Recovery codes' });
    expect(
      within(codes)
        .getAllByRole('listitem')
        .map((li) => li.textContent),
    ).toEqual(['aaaa-bbbb-cccc', 'dddd-eeee-ffff']);
    await waitFor(() => expect(api.mfa.status.mock.calls.length).toBeGreaterThan(1));
  });

  it('leads an admin held by MFA_REQUIRED_ROLES from the admin page to the setup', async () => {
    const api = fakeApi();
    api.admin.listUsers.mockRejectedValue(
      problem(403, 'mfa_enrollment_required', 'Your role needs two-step sign-in.'),
    );
    api.admin.listRoles.mockResolvedValue({ roles: [], permissions: [] });
    renderAt('/admin', api, { ...user, roles: ['admin'] });
    const link = await screen.findByRole('link', {
      name: 'Set up a second factor on your account page',
    });
    expect(link.getAttribute('href')).toBe('/account#two-step-title');
  });
});
