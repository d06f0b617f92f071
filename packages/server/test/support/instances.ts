import type { LatchkeyOptions } from '../../src/app/latchkey.js';
import type { Env } from '../../src/config/config.js';
import type { MailMessage } from '../../src/mail/transport.js';
import { CapturingTransport, startTestInstance, type TestInstance, testConfig } from './app.js';
import { createPostgresDatabase } from './db.js';

export interface Instances {
  instances: TestInstance[];
  /** Every mail any of them sent (one transport for all, as one SMTP relay would be). */
  mails: MailMessage[];
  /** Closes the instances, then drops their database. */
  close(): Promise<void>;
}

/**
 * `count` Latchkey instances on one fresh, empty PostgreSQL database (TEST_DATABASE_URL), as
 * behind a load balancer: the first to start migrates it. `together` starts them all at once
 * (the migration lock decides who migrates); `through` turns the database URL into the one the
 * instances use (a proxy in front of it, say).
 */
export async function startInstances(
  count: number,
  settings: {
    env?: Env;
    options?: Omit<LatchkeyOptions, 'mailTransport' | 'logStream' | 'startMailWorker'>;
    together?: boolean;
    through?: (databaseUrl: string) => Promise<string>;
    dbPrefix?: string;
  } = {},
): Promise<Instances> {
  const database = await createPostgresDatabase(settings.dbPrefix);
  const transport = new CapturingTransport();
  const instances: TestInstance[] = [];
  const close = async () => {
    for (const instance of instances) await instance.close();
    await database.drop();
  };
  try {
    const url = settings.through ? await settings.through(database.url) : database.url;
    const config = testConfig({ ...settings.env, DATABASE_URL: url } as Env);
    const start = () => startTestInstance(config, transport, settings.options);
    if (settings.together) {
      const started = await Promise.allSettled(Array.from({ length: count }, start));
      for (const result of started) if (result.status === 'fulfilled') instances.push(result.value);
      const failed = started.find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
    } else {
      for (let i = 0; i < count; i++) instances.push(await start());
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { instances, mails: transport.sent, close };
}
