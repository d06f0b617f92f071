import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import * as s from '@latchkey/contract';
import type { Actor, AdminService } from '../../core/admin.js';
import type { WebhookService } from '../../core/webhooks.js';
import { type MfaPolicy, requirePermissions } from '../plugins/permissions.js';
import { currentSession, requestContext } from '../plugins/session.js';

/**
 * The webhook endpoints of the admin API; every route needs `webhooks:manage`, and MFA_REQUIRED_ROLES
 * holds them back like the rest of the admin API.
 */
export const webhookRoutes: FastifyPluginAsyncZod<{
  admin: AdminService;
  webhooks: WebhookService;
  mfa: MfaPolicy;
}> = async (app, { admin, webhooks, mfa }) => {
  requirePermissions(app, admin, mfa);
  const problems = {
    400: s.problem,
    401: s.problem,
    403: s.problem,
    404: s.problem,
    409: s.problem,
  };
  const actor = (request: Parameters<typeof currentSession>[0]): Actor => ({
    id: currentSession(request).user.id,
    via: 'api',
  });
  const tags = ['webhooks'];
  const config = { permission: 'webhooks:manage' as const };

  app.post(
    '/admin/webhooks',
    {
      config,
      schema: {
        tags,
        summary: 'Add an endpoint; the answer carries its signing secret, shown only here',
        description:
          '400 webhook_url_refused for a loopback, private or link-local address unless WEBHOOK_ALLOW_PRIVATE_NETWORKS=true.',
        body: s.createWebhookBody,
        response: { 201: s.createdWebhookResponse, ...problems },
      },
    },
    async (request, reply) => {
      const created = await webhooks.create(
        actor(request),
        request.body,
        requestContext(request, reply),
      );
      return reply.status(201).send(created);
    },
  );

  app.get(
    '/admin/webhooks',
    {
      config,
      schema: {
        tags,
        summary: 'The endpoints (no secrets)',
        response: { 200: s.webhooksResponse, ...problems },
      },
    },
    async () => ({ webhooks: await webhooks.list() }),
  );

  app.patch(
    '/admin/webhooks/:id',
    {
      config,
      schema: {
        tags,
        summary: 'Change the URL, the event types, the description; disable or enable',
        description:
          'Enabling an endpoint that Latchkey disabled clears the reason and resumes delivery.',
        params: s.webhookIdParams,
        body: s.updateWebhookBody,
        response: { 200: s.webhookEndpoint, ...problems },
      },
    },
    async (request, reply) =>
      webhooks.update(
        actor(request),
        request.params.id,
        request.body,
        requestContext(request, reply),
      ),
  );

  app.delete(
    '/admin/webhooks/:id',
    {
      config,
      schema: {
        tags,
        summary: 'Remove the endpoint and its deliveries',
        params: s.webhookIdParams,
        response: { 204: s.noContent, ...problems },
      },
    },
    async (request, reply) => {
      await webhooks.remove(actor(request), request.params.id, requestContext(request, reply));
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/admin/webhooks/:id/rotate-secret',
    {
      config,
      schema: {
        tags,
        summary: 'A new signing secret; the old one also signs for 24 hours',
        params: s.webhookIdParams,
        response: { 200: s.webhookSecretResponse, ...problems },
      },
    },
    async (request, reply) =>
      webhooks.rotateSecret(actor(request), request.params.id, requestContext(request, reply)),
  );

  app.post(
    '/admin/webhooks/:id/test',
    {
      config,
      schema: {
        tags,
        summary: 'Queue a webhook.test event for this endpoint',
        description: '409 webhook_disabled when the endpoint is disabled.',
        params: s.webhookIdParams,
        response: { 202: s.webhookTestResponse, ...problems },
      },
    },
    async (request, reply) => {
      const { eventId } = await webhooks.test(
        actor(request),
        request.params.id,
        requestContext(request, reply),
      );
      return reply.status(202).send({ message: 'A webhook.test event is queued.', eventId });
    },
  );

  app.get(
    '/admin/webhooks/:id/deliveries',
    {
      config,
      schema: {
        tags,
        summary: 'The deliveries of an endpoint, newest event first',
        params: s.webhookIdParams,
        querystring: s.webhookDeliveriesQuery,
        response: { 200: s.webhookDeliveriesResponse, ...problems },
      },
    },
    async (request) => webhooks.deliveries(request.params.id, request.query),
  );

  app.post(
    '/admin/webhooks/:id/deliveries/:deliveryId/retry',
    {
      config,
      schema: {
        tags,
        summary: 'Queue a delivery again now, with a fresh retry period',
        params: s.webhookDeliveryParams,
        response: { 202: s.message, ...problems },
      },
    },
    async (request, reply) => {
      await webhooks.retry(
        actor(request),
        request.params.id,
        request.params.deliveryId,
        requestContext(request, reply),
      );
      return reply.status(202).send({ message: 'The delivery is queued.' });
    },
  );
};
