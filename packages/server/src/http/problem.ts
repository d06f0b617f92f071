import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AuthError } from '../core/errors.js';
import { isDatabaseUnavailable } from '../store/database.js';
import type { Problem } from './schemas.js';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Sends an RFC 9457 problem document. `code` is the stable field clients branch on. */
export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  code: string,
  detail: string,
  extra: { errors?: Problem['errors']; retryAfterSeconds?: number | undefined } = {},
) {
  const body: Problem = {
    type: `urn:latchkey:problem:${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    requestId: request.id,
    ...(extra.errors ? { errors: extra.errors } : {}),
  };
  if (extra.retryAfterSeconds !== undefined) {
    reply.header('retry-after', String(Math.max(1, Math.ceil(extra.retryAfterSeconds))));
  }
  return reply
    .status(status)
    .type('application/problem+json')
    .serializer(JSON.stringify)
    .send(body);
}

/** Fastify's own errors for bad requests, mapped to our codes and plain messages. */
const FRAMEWORK_ERRORS: Record<string, [number, string, string]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [
    415,
    'unsupported_media_type',
    'Send the request body as JSON with Content-Type: application/json.',
  ],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'body_too_large', 'The request body is too large.'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [
    400,
    'malformed_json',
    'The body is empty; send a JSON object or no Content-Type.',
  ],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'malformed_json', 'The request body is not valid JSON.'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'bad_request', 'The Content-Length header is wrong.'],
};

/** How long a client is asked to wait while the database is unavailable. */
const DATABASE_RETRY_AFTER_SECONDS = 5;
const DATABASE_PROBE_INTERVAL_MS = 1000;

/**
 * One warning when the database stops answering, one info line when it answers again (found by
 * a probe, so a quiet service still reports it): an outage must not write a stack per request.
 */
function databaseOutageLog(app: FastifyInstance, probe: (() => Promise<void>) | undefined) {
  let since: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  app.addHook('onClose', async () => clearInterval(timer));
  return (error: unknown) => {
    if (since !== undefined) return;
    since = Date.now();
    const { code, message } = error as { code?: unknown; message?: unknown };
    app.log.warn(
      { code, reason: String(message) },
      'database unavailable: requests that need it answer 503 until it is back',
    );
    if (!probe) return;
    let probing = false;
    timer = setInterval(() => {
      if (probing) return;
      probing = true;
      probe().then(
        () => {
          app.log.info({ outageMs: Date.now() - (since ?? Date.now()) }, 'database answers again');
          since = undefined;
          clearInterval(timer);
        },
        () => {
          probing = false;
        },
      );
    }, DATABASE_PROBE_INTERVAL_MS);
    timer.unref();
  };
}

export interface ProblemPluginOptions {
  /** A trivial query: tells when an outage of the database is over (for the log). */
  probeDatabase?: () => Promise<void>;
}

/**
 * Every error leaves as problem+json: validation with per-field `errors`, core's AuthErrors with
 * their codes, framework errors with stable codes, an unavailable database as 503, and anything
 * unexpected as a bare 500 (the details go to the log, never to the client).
 */
export const problemPlugin = fp(async (app: FastifyInstance, options: ProblemPluginOptions) => {
  const databaseOutage = databaseOutageLog(app, options.probeDatabase);
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof AuthError) {
      return sendProblem(request, reply, error.status, error.code, error.message, {
        errors: error.extra.errors,
        retryAfterSeconds: error.extra.retryAfterSeconds,
      });
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const errors = error.validation.flatMap((issue) => {
        const field = issue.instancePath.split('/').filter(Boolean).join('.');
        if (issue.keyword === 'unrecognized_keys') {
          const keys = (issue.params as { keys?: string[] }).keys ?? [];
          return keys.map((key) => ({
            field: field ? `${field}.${key}` : key,
            message: 'Unknown field.',
          }));
        }
        return [
          {
            field: field || error.validationContext || 'body',
            message: issue.message ?? 'Invalid value.',
          },
        ];
      });
      return sendProblem(
        request,
        reply,
        400,
        'validation_failed',
        'The request is invalid: see errors for each field.',
        { errors },
      );
    }
    const mapped = error.code ? FRAMEWORK_ERRORS[error.code] : undefined;
    if (mapped) return sendProblem(request, reply, mapped[0], mapped[1], mapped[2]);
    // Prototype-poisoning JSON (__proto__ / constructor keys) is refused by the parser.
    if (
      error instanceof SyntaxError ||
      (/prototype/i.test(error.message) && error.statusCode === 400)
    ) {
      return sendProblem(
        request,
        reply,
        400,
        'malformed_json',
        'The request body is not valid JSON.',
      );
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return sendProblem(
        request,
        reply,
        status,
        'bad_request',
        'The request could not be processed.',
      );
    }
    if (isDatabaseUnavailable(error)) {
      databaseOutage(error);
      return sendProblem(
        request,
        reply,
        503,
        'service_unavailable',
        'The service is temporarily unavailable. Try again shortly.',
        { retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS },
      );
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(
      request,
      reply,
      500,
      'internal_error',
      'Something went wrong on our side. Try again later.',
    );
  });
});
