import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

export interface ListenHandlers {
  onMessage(payload: string): void;
  /** true once listening, false whenever the connection is lost (messages may be missed). */
  onState(connected: boolean): void;
  onError?(error: unknown): void;
}

/** LISTEN on a channel until the returned close() is called. */
export type Listen = (
  channel: string,
  handlers: ListenHandlers,
) => Promise<{ close(): Promise<void> }>;

/**
 * PostgreSQL LISTEN on a dedicated connection (a pool connection cannot hold a LISTEN), which
 * reconnects with a capped backoff and reports its state, so the caller can stop trusting
 * what it cached while messages could be missed.
 */
export function pgListen(url: string): Listen {
  return async (channel, handlers) => {
    let closed = false;
    let client: pg.Client | undefined;
    let retryTimer: NodeJS.Timeout | undefined;
    let attempt = 0;

    const connect = async () => {
      if (closed) return;
      const c = new pg.Client({ connectionString: url, keepAlive: true });
      client = c;
      let lost = false;
      let stopHeartbeat = () => {};
      const onLost = (error?: unknown) => {
        if (lost) return;
        lost = true;
        stopHeartbeat();
        handlers.onState(false);
        if (error) handlers.onError?.(error);
        c.removeAllListeners('notification');
        void c.end().catch(() => {});
        if (!closed) {
          const delay = Math.min(250 * 2 ** Math.min(attempt++, 5), 5000);
          retryTimer = setTimeout(() => void connect(), delay);
          retryTimer.unref();
        }
      };
      c.on('error', onLost);
      c.on('end', () => onLost());
      c.on('notification', (message) => {
        if (message.channel === channel && message.payload !== undefined) {
          handlers.onMessage(message.payload);
        }
      });
      try {
        await c.connect();
        await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
        if (closed || lost) return;
        attempt = 0;
        handlers.onState(true);
        // A server that stops answering without closing the connection counts as lost.
        const heartbeat = setInterval(() => {
          const timeout = setTimeout(() => onLost(new Error('LISTEN heartbeat timed out')), 2000);
          c.query('select 1').then(
            () => clearTimeout(timeout),
            (error: unknown) => {
              clearTimeout(timeout);
              onLost(error);
            },
          );
        }, 2000);
        heartbeat.unref();
        c.once('end', () => clearInterval(heartbeat));
        stopHeartbeat = () => clearInterval(heartbeat);
      } catch (error) {
        onLost(error);
      }
    };

    await connect();
    return {
      async close() {
        closed = true;
        clearTimeout(retryTimer);
        handlers.onState(false);
        await client?.end().catch(() => {});
      },
    };
  };
}

/** The embedded database is one process: its notifications are in-process and never lost. */
export function pgliteListen(pglite: PGlite): Listen {
  return async (channel, handlers) => {
    const unlisten = await pglite.listen(channel, (payload) => handlers.onMessage(payload));
    handlers.onState(true);
    return {
      async close() {
        handlers.onState(false);
        await unlisten().catch(() => {});
      },
    };
  };
}
