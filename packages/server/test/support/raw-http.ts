import { connect } from 'node:net';

/** What came back on a raw socket: the first response (if any) and how the socket ended. */
export interface RawAnswer {
  /** Everything received, as text. */
  raw: string;
  status: number | undefined;
  headers: Record<string, string>;
  body: string;
  /** The server closed the connection (rather than the test giving up). */
  closed: boolean;
  /** Milliseconds from the first byte sent to the close (or to giving up). */
  elapsedMs: number;
}

function parse(raw: string): Pick<RawAnswer, 'status' | 'headers' | 'body'> {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return { status: undefined, headers: {}, body: '' };
  const [statusLine = '', ...lines] = raw.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? Number.NaN);
  const rest = raw.slice(end + 4);
  return {
    status: Number(statusLine.split(' ')[1]),
    headers,
    body: Number.isNaN(length) ? rest : Buffer.from(rest).subarray(0, length).toString(),
  };
}

/**
 * Sends bytes exactly as given (no client library to fix them up) and reads until the server
 * closes the socket, a complete response arrived, or `giveUpMs` passed. `chunks` are written
 * `gapMs` apart, for clients that trickle their request.
 */
export function rawRequest(
  port: number,
  chunks: (string | Buffer)[],
  options: { gapMs?: number; giveUpMs?: number; untilClose?: boolean } = {},
): Promise<RawAnswer> {
  const { gapMs = 0, giveUpMs = 5000, untilClose = false } = options;
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const started = Date.now();
    let received = Buffer.alloc(0);
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(giveUp);
      socket.destroy();
      const raw = received.toString('latin1');
      resolve({ raw, ...parse(raw), closed, elapsedMs: Date.now() - started });
    };
    const giveUp = setTimeout(() => finish(false), giveUpMs);
    socket.on('data', (data) => {
      received = Buffer.concat([received, data]);
      if (untilClose) return;
      const answer = parse(received.toString('latin1'));
      const length = Number(answer.headers['content-length']);
      const end = received.indexOf('\r\n\r\n');
      if (answer.status && end >= 0 && received.length - end - 4 >= length) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.on('connect', async () => {
      for (const [i, chunk] of chunks.entries()) {
        if (done || socket.destroyed) return;
        if (i > 0 && gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
        if (done || socket.destroyed) return;
        socket.write(chunk);
      }
    });
  });
}
