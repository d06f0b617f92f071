import type { WebhookEndpoint } from '@latchkey/sdk';
import { cleanup, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeApi, problem, renderAt, user } from './helpers.js';

const admin = { ...user, roles: ['admin'] };
const endpoint = (n: number, more: Partial<WebhookEndpoint> = {}): WebhookEndpoint => ({
  id: `0193a3c4-0000-7000-8000-${String(n).padStart(12, '0')}`,
  url: `https://hooks${n}.example.com/latchkey`,
  events: ['user.created'],
  description: '',
  enabled: true,
  disabledReason: null,
  failingSince: null,
  createdAt: '2026-11-20T08:00:00.000Z',
  ...more,
});

afterEach(cleanup);

describe('admin webhooks', () => {
  it('lists endpoints with why one was disabled, and adds one whose secret is shown once', async () => {
    const api = fakeApi();
    const endpoints = [
      endpoint(1),
      endpoint(2, {
        enabled: false,
        disabledReason: 'Every delivery failed for 5 days; the last error: HTTP 410',
      }),
    ];
    api.admin.listWebhooks.mockImplementation(async () => [...endpoints]);
    api.admin.createWebhook.mockImplementation(async (input) => {
      const created = endpoint(3, { url: input.url, events: input.events });
      endpoints.push(created);
      return { ...created, secret: 'whsec_c2VjcmV0LXNob3duLW9uY2U=' };
    });
    renderAt('/admin?tab=webhooks', api, admin);
    expect(await screen.findByText('https://hooks1.example.com/latchkey')).toBeTruthy();
    expect(screen.getByText(/Every delivery failed for 5 days/)).toBeTruthy();

    const u = userEvent.setup();
    await u.type(screen.getByLabelText('URL'), 'https://crm.example.com/hooks');
    await u.click(screen.getByRole('checkbox', { name: 'user.created' }));
    await u.click(screen.getByRole('checkbox', { name: 'user.deleted' }));
    await u.click(screen.getByRole('button', { name: 'Add endpoint' }));
    expect(api.admin.createWebhook).toHaveBeenCalledWith({
      url: 'https://crm.example.com/hooks',
      events: ['user.created', 'user.deleted'],
    });
    expect(await screen.findByText('whsec_c2VjcmV0LXNob3duLW9uY2U=')).toBeTruthy();
    expect(await screen.findByText('https://crm.example.com/hooks')).toBeTruthy();
  });

  it('shows the refusal of a private address next to the form', async () => {
    const api = fakeApi();
    api.admin.listWebhooks.mockResolvedValue([]);
    api.admin.createWebhook.mockRejectedValue(
      problem(400, 'webhook_url_refused', 'Webhooks cannot reach 10.0.0.5 unless allowed.'),
    );
    renderAt('/admin?tab=webhooks', api, admin);
    expect(await screen.findByText('No webhook endpoints.')).toBeTruthy();
    const u = userEvent.setup();
    await u.type(screen.getByLabelText('URL'), 'http://10.0.0.5/');
    await u.click(screen.getByRole('checkbox', { name: 'user.created' }));
    await u.click(screen.getByRole('button', { name: 'Add endpoint' }));
    expect(await screen.findByText(/cannot reach 10.0.0.5/)).toBeTruthy();
  });

  it('sends a test, shows the deliveries and retries a failed one', async () => {
    const api = fakeApi();
    const one = endpoint(1);
    api.admin.listWebhooks.mockResolvedValue([one]);
    api.admin.testWebhook.mockResolvedValue({ message: 'queued', eventId: one.id });
    api.admin.webhookDeliveries.mockResolvedValue({
      deliveries: [
        {
          id: '0193a3c4-0000-7000-9000-000000000001',
          eventId: '0193a3c4-0000-7000-a000-000000000001',
          type: 'user.created',
          status: 'failed',
          attempts: 17,
          lastStatusCode: 503,
          lastError: 'HTTP 503: down for maintenance',
          nextAttemptAt: '2026-11-21T08:00:00.000Z',
          createdAt: '2026-11-20T08:00:00.000Z',
        },
      ],
      nextCursor: null,
    });
    api.admin.retryWebhookDelivery.mockResolvedValue({ message: 'queued' });
    renderAt('/admin?tab=webhooks', api, admin);
    const u = userEvent.setup();
    await u.click(await screen.findByRole('button', { name: 'Send test' }));
    expect(api.admin.testWebhook).toHaveBeenCalledWith(one.id);
    await u.click(screen.getByRole('button', { name: 'Deliveries' }));
    const deliveries = await screen.findByRole('region', { name: 'Deliveries' });
    expect(await within(deliveries).findByText('HTTP 503: down for maintenance')).toBeTruthy();
    expect(within(deliveries).getByText('17')).toBeTruthy();
    await u.click(within(deliveries).getByRole('button', { name: 'Retry' }));
    await waitFor(() =>
      expect(api.admin.retryWebhookDelivery).toHaveBeenCalledWith(
        one.id,
        '0193a3c4-0000-7000-9000-000000000001',
      ),
    );
  });
});
