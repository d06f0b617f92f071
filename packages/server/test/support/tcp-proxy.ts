import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a test dependency (Redis, PostgreSQL) that the test breaks, then
 * restores:
 * - `refuse`: open connections are dropped and new ones closed at once (a stopped server);
 * - `hang`: open connections are dropped, new ones accepted and never answered;
 * - `freeze`: every connection stays open but nothing passes either way, as with a server
 *   process stopped by SIGSTOP; `restore()` lets the held bytes through again.
 */
export class TcpProxy {
  private server!: Server;
  private readonly sockets = new Set<Socket>();
  private readonly paused = new Set<Socket>();
  mode: 'pass' | 'refuse' | 'hang' | 'freeze' = 'pass';
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  /** A started proxy in front of the server of `url` (`defaultPort` when the URL has none). */
  static async inFrontOf(url: string, defaultPort: number): Promise<TcpProxy> {
    const { hostname, port } = new URL(url);
    const proxy = new TcpProxy({ host: hostname, port: Number(port || defaultPort) });
    await proxy.start();
    return proxy;
  }

  /** The same URL with this proxy's address in place of the target's. */
  url(original: string): string {
    const url = new URL(original);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  async start() {
    this.server = createServer((client) => {
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      client.on('error', () => {});
      if (this.mode === 'refuse') return client.destroy();
      if (this.mode === 'hang' || this.mode === 'freeze') {
        // Accepted and never answered; a restore does not revive it.
        return;
      }
      const upstream = connect(this.target.port, this.target.host);
      this.sockets.add(upstream);
      upstream.on('close', () => {
        this.sockets.delete(upstream);
        client.destroy();
      });
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      // Forwarded by hand (no pipe): a paused socket stays paused until restore().
      client.on('data', (chunk) => upstream.write(chunk));
      upstream.on('data', (chunk) => client.write(chunk));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** Drops (refuse, hang) or stalls (freeze) every open connection; new ones follow `mode`. */
  cut(mode: 'refuse' | 'hang' | 'freeze') {
    this.mode = mode;
    for (const socket of this.sockets) {
      if (mode === 'freeze') {
        socket.pause();
        this.paused.add(socket);
      } else {
        socket.destroy();
      }
    }
  }

  restore() {
    this.mode = 'pass';
    for (const socket of this.paused) socket.resume();
    this.paused.clear();
  }

  async stop() {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
