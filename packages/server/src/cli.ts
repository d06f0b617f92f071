#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { type Config, ConfigError, loadConfig } from './config.js';
import { startServer } from './server.js';
import { DatabaseInUseError, openDatabase } from './store/database.js';
import { migrate } from './store/migrate.js';

/** Reads `.env` from the working directory (variables already set win), then the config. */
function config(): Config {
  if (existsSync('.env')) process.loadEnvFile('.env');
  return loadConfig();
}

/** Prints what went wrong and what to do, without a stack trace for expected failures. */
function fail(error: unknown): never {
  if (error instanceof ConfigError || error instanceof DatabaseInUseError) {
    console.error(`latchkey: ${error.message}`);
    process.exit(error instanceof ConfigError ? 2 : 1);
  }
  console.error('latchkey: unexpected error:', error);
  process.exit(1);
}

const program = new Command()
  .name('latchkey')
  .description(
    'Latchkey: self-hosted email/password authentication.\nConfiguration comes from environment variables (and a .env file); see the README.',
  )
  .showHelpAfterError();

program
  .command('start')
  .description('run the HTTP service (applies pending migrations first)')
  .action(async () => {
    try {
      await startServer(config());
    } catch (error) {
      fail(error);
    }
  });

program
  .command('migrate')
  .description('apply pending database migrations and exit')
  .action(async () => {
    try {
      const cfg = config();
      const handle = await openDatabase(cfg);
      try {
        const result = await migrate(handle.db, {
          onApply: (m) => console.log(`applying ${String(m.version).padStart(4, '0')}_${m.name}…`),
        });
        console.log(
          result.applied.length
            ? `applied ${result.applied.length} migration(s); schema is at version ${result.current}`
            : `nothing to do; schema is at version ${result.current}`,
        );
      } finally {
        await handle.close();
      }
    } catch (error) {
      fail(error);
    }
  });

await program.parseAsync();
