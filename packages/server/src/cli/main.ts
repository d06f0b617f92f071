#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { registerAdminCommands } from './admin.js';
import { type Config, ConfigError, loadConfig } from '../config/config.js';
import { OWASP_MINIMUM } from '../core/passwords.js';
import { runHashCalibrate } from './hash-calibrate.js';
import { startServer } from '../app/server.js';
import { DataDirError } from '../store/data-dir.js';
import { DatabaseInUseError, openDatabase } from '../store/database.js';
import { migrate } from '../store/migrate.js';
import { rotateSigningKey } from '../app/token-mode.js';
import { runUsersImport } from './users-import.js';
import { registerWebhookCommands } from './webhooks.js';

/** Reads `.env` from the working directory (variables already set win), then the config. */
function config(): Config {
  if (existsSync('.env')) process.loadEnvFile('.env');
  return loadConfig();
}

/** Prints what went wrong and what to do, without a stack trace for expected failures. */
function fail(error: unknown): never {
  if (
    error instanceof ConfigError ||
    error instanceof DataDirError ||
    error instanceof DatabaseInUseError
  ) {
    console.error(`latchkey: ${error.message}`);
    process.exit(error instanceof DatabaseInUseError ? 1 : 2);
  }
  console.error('latchkey: unexpected error:', error);
  process.exit(1);
}

const program = new Command()
  .name('latchkey')
  .description(
    'Latchkey: self-hosted email/password authentication.\nConfiguration comes from environment variables (and a .env file); every one is listed in docs/configuration.md.',
  )
  .showHelpAfterError()
  // Exit codes: 0 done, 1 refused or failed, 2 bad usage or configuration.
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));

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

const users = program.command('users').description('manage user accounts');

users
  .command('import')
  .argument(
    '<file>',
    'JSON lines: {"email", "name"?, "passwordHash"?, "emailVerified"?, "createdAt"?}',
  )
  .description(
    'import users from another system (bcrypt or argon2 hashes, upgraded at their next login); ' +
      'existing emails are skipped, bad lines reported with their number; see docs/account-flows.md',
  )
  .action(async (file: string) => {
    try {
      if (!existsSync(file)) {
        console.error(`latchkey: ${file}: no such file`);
        process.exit(1);
      }
      const cfg = config();
      const handle = await openDatabase(cfg);
      try {
        await migrate(handle.db);
        const counts = await runUsersImport(file, handle.db, {
          info: (line) => console.log(line),
          error: (line) => console.error(line),
        });
        // Lines were rejected: the rest is imported, but a script should notice.
        if (counts.rejected > 0) process.exitCode = 1;
      } finally {
        await handle.close();
      }
    } catch (error) {
      fail(error);
    }
  });

registerAdminCommands(program, users, { config, fail });
registerWebhookCommands(program, { config, fail });

const keys = program.command('keys').description('access-token signing keys');

keys
  .command('rotate')
  .description(
    'make a new current signing key; the old one stays published until its tokens expire',
  )
  .action(async () => {
    try {
      const cfg = config();
      const handle = await openDatabase(cfg);
      try {
        await migrate(handle.db);
        const { kid, previousKid } = await rotateSigningKey(cfg, handle.db, () => new Date());
        console.log(`new signing key ${kid}` + (previousKid ? `; ${previousKid} is retired` : ''));
      } finally {
        await handle.close();
      }
    } catch (error) {
      fail(error);
    }
  });

/** A whole number within [min, max] for a command-line option (else exit 2 with the reason). */
const wholeNumber = (min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}.`);
  }
  return n;
};

program
  .command('hash')
  .description('password hashing')
  .command('calibrate')
  .description(
    'measure argon2id on this machine and propose ARGON2_* settings for a target time per hash ' +
      "(never below OWASP's minimum, the default)",
  )
  .option('--target-ms <ms>', 'time one hash may take on one core', wholeNumber(1, 60_000), 50)
  .option(
    '--max-memory-kib <KiB>',
    'memory one hash may use',
    wholeNumber(OWASP_MINIMUM.memoryCost, 4 * 1024 * 1024),
    65536,
  )
  .option('--runs <n>', 'hashes per candidate; the median counts', wholeNumber(1, 100), 5)
  .action(async (opts: { targetMs: number; maxMemoryKib: number; runs: number }) => {
    try {
      await runHashCalibrate(
        config(),
        { targetMs: opts.targetMs, maxMemoryKiB: opts.maxMemoryKib, runs: opts.runs },
        (line) => console.log(line),
      );
    } catch (error) {
      fail(error);
    }
  });

await program.parseAsync();
