import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import type { Problem, ProblemCode } from '@latchkey/contract';
import { AuthError } from '../core/errors.js';
import { CounterStoreUnavailableError } from '../store/counters.js';
import { isDatabaseUnavailable } from '../store/database.js';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  417: 'Expectation Failed',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Sends an RFC 9457 problem document. `code` is the stable field clients branch on. */
export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  code: ProblemCode,
  detail: string,
  extra: { errors?: Problem['errors']; retryAfterSeconds?: number | undefined } = {},
) {
  const body: Problem = {
    ...problem(status, code, detail, request.id),
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

function problem(status: number, code: ProblemCode, detail: string, requestId: string): Problem {
  return {
    type: `urn:latchkey:problem:${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    requestId,
  };
}

/** A problem document for answers written outside Fastify's request cycle. */
function problemBody(status: number, code: ProblemCode, detail: string): string {
  return JSON.stringify(problem(status, code, detail, randomUUID()));
}

/** Node's parser errors (and its request timeout), which never reach a route. */
function clientProblem(error: NodeJS.ErrnoException): [number, ProblemCode, string] {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'request_timeout', 'The request did not arrive in time.'];
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'headers_too_large', 'The request line and headers are too large.'];
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return [400, 'bad_request', 'The Content-Length header is wrong.'];
    default:
      return [400, 'malformed_request', 'The request is not valid HTTP/1.1.'];
  }
}

/** Writes a problem answer straight on the socket, then closes it, as Node itself would. */
function answerOnSocket(socket: Socket, status: number, code: ProblemCode, detail: string) {
  // Never write into a response that has started: the client would read a corrupt answer.
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const body = problemBody(status, code, detail);
    socket.write(
      `HTTP/1.1 ${status} ${TITLES[status]}\r\nContent-Type: application/problem+json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
}

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses (and requests that time out)
 * is answered as problem+json. Only the error code is logged: Node's error carries the raw
 * bytes received.
 */
export function clientErrorHandler(
  this: FastifyInstance,
  error: NodeJS.ErrnoException,
  socket: Socket,
): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, detail] = clientProblem(error);
  this.log.debug({ code: error.code, status }, 'client error');
  answerOnSocket(socket, status, code, detail);
  socket.destroy(error);
}

/** CONNECT (a proxy tunnel) is for proxies; Node would close the socket without an answer. */
export function refuseConnect(_request: IncomingMessage, socket: Socket): void {
  answerOnSocket(socket, 405, 'method_not_allowed', 'CONNECT is not allowed here.');
  socket.destroy();
}

/**
 * Node answers an `Expect` other than 100-continue with a bare 417 unless the server listens
 * for it; this listener answers the same status as problem+json.
 */
export function expectationFailed(_request: IncomingMessage, response: ServerResponse): void {
  const body = problemBody(417, 'expectation_failed', 'Only "Expect: 100-continue" is supported.');
  response.writeHead(417, {
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  response.end(body);
}

/**
 * Fastify's `frameworkErrors`: the router's refusals (an undecodable path, an overlong
 * parameter). Fastify's own answers quote the path; these never do.
 */
export function frameworkErrorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
      return sendProblem(request, reply, 400, 'bad_url', 'The request path is not valid.');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return sendProblem(request, reply, 414, 'uri_too_long', 'A path segment is too long.');
    default:
      request.log.error({ code: error.code }, 'router error');
      return sendProblem(
        request,
        reply,
        500,
        'internal_error',
        'Something went wrong on our side. Try again later.',
      );
  }
}

/** Fastify's own errors for bad requests, mapped to our codes and plain messages. */
const FRAMEWORK_ERRORS: Record<string, [number, ProblemCode, string]> = {
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
  app.addHook('onRequest', async (request, reply) => {
    // HTTP/1.1 requires Host (RFC 9112, section 3.2); Node's check answers without a body.
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      return sendProblem(request, reply, 400, 'missing_host', 'Send a Host header.');
    }
    // Bodies are read as they come: a compressed one would be parsed as if it were plain.
    const encoding = request.headers['content-encoding']?.trim().toLowerCase();
    if (encoding && encoding !== 'identity') {
      return sendProblem(
        request,
        reply,
        415,
        'unsupported_encoding',
        'Send the request body uncompressed, without Content-Encoding.',
      );
    }
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof CounterStoreUnavailableError) {
      return sendProblem(
        request,
        reply,
        error.status,
        error.code,
        'Sign-in is paused for a moment while a backing service recovers. Try again shortly.',
        { retryAfterSeconds: 5 },
      );
    }
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
    if (isRefusedData(error)) {
      request.log.warn({ err: loggable(error) }, 'the database refused a value of the request');
      return sendProblem(
        request,
        reply,
        400,
        'validation_failed',
        'The request holds a value that cannot be stored.',
      );
    }
    request.log.error({ err: loggable(error) }, 'unhandled error');
    return sendProblem(
      request,
      reply,
      500,
      'internal_error',
      'Something went wrong on our side. Try again later.',
    );
  });
});

/**
 * Values the database refuses to read (a byte sequence or a JSON text it cannot take): input the
 * route's checks let through, so a 400, not a 500.
 */
const REFUSED_DATA_SQLSTATES = new Set(['22021', '22P02', '22P05']);

function isRefusedData(error: { code?: unknown }): boolean {
  return typeof error.code === 'string' && REFUSED_DATA_SQLSTATES.has(error.code);
}

/**
 * A database error without `detail`, `where` and `internalQuery`: they quote the row or JSON the
 * statement was given (addresses, URLs with their query), which the log must not keep.
 */
function loggable(error: Error & { code?: unknown }): object {
  if (!('detail' in error || 'where' in error || 'internalQuery' in error)) return error;
  return { type: error.name, message: error.message, code: error.code, stack: error.stack };
}
