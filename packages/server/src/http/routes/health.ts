import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { healthStatus, problem } from '@latchkey/contract';
import { sendProblem } from '../problem.js';

export interface HealthOptions {
  /** Throws when a dependency (the database, later Redis) cannot answer. */
  checks: Record<string, () => Promise<void>>;
  /** True once the instance is stopping: it says it is not ready, so traffic moves elsewhere. */
  draining?: (() => boolean) | undefined;
}

export const healthRoutes: FastifyPluginAsyncZod<HealthOptions> = async (
  app,
  { checks, draining },
) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['ops'],
        summary: 'Liveness: the process answers',
        response: { 200: healthStatus },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['ops'],
        summary: 'Readiness: the database (and other dependencies) answer',
        response: { 200: healthStatus, 503: problem },
      },
    },
    async (request, reply) => {
      if (draining?.()) {
        return sendProblem(request, reply, 503, 'not_ready', 'This instance is shutting down.');
      }
      const results: Record<string, 'ok'> = {};
      for (const [name, check] of Object.entries(checks)) {
        try {
          await withTimeout(check(), 2000);
          results[name] = 'ok';
        } catch (error) {
          request.log.warn({ err: error, check: name }, 'readiness check failed');
          return sendProblem(request, reply, 503, 'not_ready', `The ${name} is not reachable.`);
        }
      }
      return { status: 'ok' as const, checks: results };
    },
  );
};

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
