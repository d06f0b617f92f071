import { type DestinationStream, type Logger, pino, stdSerializers } from 'pino';

const SECRET_HEADERS = ['authorization', 'cookie', 'set-cookie', 'x-csrf-token'];

/**
 * Headers never logged with their values, wherever a log call puts them (`req.headers`,
 * `res.headers`, `headers`).
 */
const REDACT = SECRET_HEADERS.flatMap((name) => [`headers["${name}"]`, `*.headers["${name}"]`]);

/**
 * Query strings never reach a log line: the mailed links carry their tokens there
 * (/reset-password?token=…), and any client may put a credential in one.
 */
export function withoutQuery(text: string): string {
  return text.replace(/(\/[^\s?#"'`]*)\?[^\s"'`]*/g, '$1?[redacted]');
}

/** The request fields worth logging: no query string, no headers. */
interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  routeOptions?: { url?: string | undefined };
  socket?: { remoteAddress?: string | undefined } | null;
}

function requestForLog(request: LoggedRequest) {
  return {
    method: request.method,
    // No route puts a secret in its path (ids in /admin/users/:id are public ids), so the
    // path itself is kept: it is what an operator greps for.
    url: request.url?.split('?')[0],
    // The route pattern, also for paths that matched nothing (undefined then).
    route: request.routeOptions?.url,
    host: request.host,
    remoteAddress: request.ip ?? request.socket?.remoteAddress,
  };
}

function errorForLog(error: Error) {
  const serialized: Record<string, unknown> = { ...stdSerializers.err(error) };
  // Node's parse errors carry the raw bytes received, which may hold a whole request.
  delete serialized.rawPacket;
  for (const key of ['message', 'stack'] as const) {
    if (typeof serialized[key] === 'string') serialized[key] = withoutQuery(serialized[key]);
  }
  return serialized;
}

/** The one structured logger of the process (HTTP requests, mail worker, dev mailbox). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    // Fastify's own serializers log `req.url` with its query string; these replace them.
    serializers: { req: requestForLog, err: errorForLog },
    hooks: {
      // Messages built from a URL (Fastify's warnings name the request's url).
      logMethod(this: Logger, args: Parameters<Logger['info']>, method: Logger['info']) {
        const scrubbed = args.map((arg: unknown) =>
          typeof arg === 'string' ? withoutQuery(arg) : arg,
        ) as Parameters<Logger['info']>;
        return method.apply(this, scrubbed);
      },
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
