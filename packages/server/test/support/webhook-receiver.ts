import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** One request the receiver got. */
export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  id: string;
  type: string;
  data: Record<string, unknown>;
}

/** How the receiver answers: 2xx, another status, or never (a hang). */
export type ReceiverMode =
  { status: number; body?: string; headers?: Record<string, string> } | 'hang';

/**
 * A real webhook receiver on 127.0.0.1: it records every request and answers as `mode` says.
 * `stop()` closes the port (connection refused), `start()` opens the same port again.
 */
export class WebhookReceiver {
  readonly received: Received[] = [];
  mode: ReceiverMode = { status: 204 };
  port = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  async start(): Promise<this> {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const parsed = JSON.parse(body) as { type: string; data: Record<string, unknown> };
        this.received.push({
          headers: request.headers,
          body,
          id: String(request.headers['webhook-id']),
          type: parsed.type,
          data: parsed.data,
        });
        const mode = this.mode;
        if (mode === 'hang') return; // never answers
        response.writeHead(mode.status, mode.headers ?? {});
        response.end(mode.body ?? '');
      });
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  /** Closes the port and every open connection. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** What was received of one type. */
  ofType(type: string): Received[] {
    return this.received.filter((r) => r.type === type);
  }

  clear(): void {
    this.received.length = 0;
  }
}

/**
 * Checks a request with the `standardwebhooks` library, as a receiver would (it refuses a
 * timestamp more than 5 minutes from the real time).
 */
export function verifiesWith(secret: string, received: Received): boolean {
  try {
    new Webhook(secret).verify(received.body, received.headers as Record<string, string>);
    return true;
  } catch {
    return false;
  }
}

/**
 * The same check without the freshness window, for tests that move the clock: the library's
 * own signer computes the signature, which must be one of the header's.
 */
export function signedBy(secret: string, received: Received): boolean {
  const timestamp = new Date(Number(received.headers['webhook-timestamp']) * 1000);
  const expected = new Webhook(secret).sign(received.id, timestamp, received.body);
  return String(received.headers['webhook-signature']).split(' ').includes(expected);
}
