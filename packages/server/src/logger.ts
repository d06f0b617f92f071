import { type DestinationStream, type Logger, pino } from 'pino';

/** Paths never logged with their values: credentials, tokens and cookies. */
const REDACT = [
  'req.headers.cookie',
  'req.headers.authorization',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
];

/** The one structured logger of the process (HTTP requests, mail worker, dev mailbox). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, redact: { paths: REDACT, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}
