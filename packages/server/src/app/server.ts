import type { Config } from '../config/config.js';
import { createLatchkey } from './latchkey.js';

/** Runs the service until SIGTERM/SIGINT, then drains requests and closes the database. */
export async function startServer(config: Config): Promise<void> {
  const started = performance.now();
  const latchkey = await createLatchkey(config);
  const { app } = latchkey;

  for (const warning of startupWarnings(config)) app.log.warn(warning);
  if (latchkey.tokens.secretSource !== 'env' && latchkey.database.kind === 'postgres') {
    app.log.warn(
      'KEY_ENCRYPTION_SECRET is not set: the signing keys are encrypted with a secret in DATA_DIR, which other instances do not have. Set KEY_ENCRYPTION_SECRET to the same value on every instance.',
    );
  }
  if (latchkey.tokens.secretSource === 'generated') {
    app.log.info(
      `Generated the key-encryption secret in ${config.dataDir}/key-encryption.key: back it up with the data.`,
    );
  }
  await app.listen({ port: config.port, host: config.host });
  app.log.info(
    {
      database: latchkey.database.kind === 'pglite' ? `PGlite in ${config.dataDir}` : 'PostgreSQL',
      mail: config.smtpUrl ? 'SMTP' : 'dev mailbox',
      rateLimitStore: latchkey.abuse.counters.kind,
      sessionInvalidation: latchkey.abuse.channel,
      startupMs: Math.round(performance.now() - started),
      rssMB: Math.round(process.memoryUsage().rss / 1e6),
    },
    `Latchkey is ready at ${config.publicUrl.origin}`,
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      app.log.warn(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    const delayMs = config.timeouts.shutdownDelayMs;
    latchkey.startDraining();
    if (delayMs > 0) {
      // A load balancer needs a health check or two to stop sending here; until then, serve.
      app.log.info(`${signal}: not ready any more; serving for ${delayMs} ms, then stopping`);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
    app.log.info(`${signal}: finishing requests in flight, then stopping`);
    try {
      await latchkey.close();
      process.exit(0);
    } catch (error) {
      app.log.error({ err: error }, 'error while stopping');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

export function startupWarnings(config: Config): string[] {
  const warnings: string[] = [];
  // A non-loopback http PUBLIC_URL is refused in production (config.ts); loopback is a trial.
  if (config.env === 'production' && config.publicUrl.protocol !== 'https:') {
    warnings.push(
      'PUBLIC_URL is not https in production: session cookies are sent without Secure. Serve Latchkey over https and set PUBLIC_URL to its https address.',
    );
  }
  return warnings;
}
