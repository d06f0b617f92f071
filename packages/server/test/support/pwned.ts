import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for a Pwned Passwords range API: knows the passwords it is given (with
 * their breach counts), pads every answer with zero-count decoys, and records the requests.
 */
export async function startPwnedPasswords(breached: Record<string, number>) {
  const known = new Map(
    Object.entries(breached).map(([password, count]) => [
      createHash('sha1').update(password).digest('hex').toUpperCase(),
      count,
    ]),
  );
  const requests: IncomingMessage[] = [];
  let mode: 'answer' | 'fail' | 'hang' | 'flood' = 'answer';
  const server = createServer((req, res) => {
    requests.push(req);
    if (mode === 'hang') return; // never answers
    if (mode === 'flood') {
      // An endless answer, as a broken or hostile mirror might send.
      res.writeHead(200, { 'content-type': 'text/plain' });
      const line = `${'F'.repeat(35)}:1\r\n`.repeat(1000);
      const pump = () => {
        while (res.write(line)) if (res.destroyed) return;
      };
      res.on('drain', pump);
      pump();
      return;
    }
    if (mode === 'fail') {
      res.writeHead(503).end();
      return;
    }
    const prefix = /^\/range\/([0-9A-F]{5})$/.exec(req.url ?? '')?.[1];
    if (!prefix) {
      res.writeHead(404).end();
      return;
    }
    const lines = [...known]
      .filter(([hash]) => hash.startsWith(prefix))
      .map(([hash, count]) => `${hash.slice(5)}:${count}`);
    for (let i = 0; i < 20; i++)
      lines.push(`${createHash('sha1').update(`pad${i}`).digest('hex').slice(5).toUpperCase()}:0`);
    res.writeHead(200, { 'content-type': 'text/plain' }).end(lines.join('\r\n'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/range/`,
    requests,
    set mode(value: typeof mode) {
      mode = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
