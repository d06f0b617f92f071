import type { Command } from 'commander';
import type { Kysely } from 'kysely';
import type { Config } from '../config/config.js';
import { type Actor, AdminService } from '../core/admin.js';
import type { AdminUser } from '../core/admin-views.js';
import type { Clock } from '../core/clock.js';
import { AuthError } from '../core/errors.js';
import { configuredPasswordPolicy } from '../core/password-policy.js';
import { PasswordHasher } from '../core/passwords.js';
import { openDatabase } from '../store/database.js';
import { migrate } from '../store/migrate.js';
import type { Database } from '../store/schema.js';

/**
 * `latchkey create-admin` and `latchkey users list|disable|enable|set-roles`. The
 * command functions take the database and an output, so tests run them in-process; the
 * commander wiring at the bottom adds the process around them.
 */

export interface CommandOutput {
  info(line: string): void;
  error(line: string): void;
}

/** A refusal the operator can act on (exit code 1), as opposed to a crash. */
export class CommandError extends Error {}

const CLI: Actor = { id: null, via: 'cli' };

export function adminServiceFor(config: Config, db: Kysely<Database>, clock?: Clock) {
  const hasher = new PasswordHasher(config.argon2, config.hashing);
  return new AdminService({
    db,
    clock: clock ?? (() => new Date()),
    policy: configuredPasswordPolicy(config.password, config.serviceName, hasher, (message) =>
      console.error(`latchkey: ${message}`),
    ),
  });
}

function describe(user: AdminUser): string {
  const state = [
    user.emailVerified ? 'verified' : 'unverified',
    ...(user.disabled ? ['DISABLED'] : []),
  ].join(', ');
  const roles = user.roles.length > 0 ? user.roles.join(',') : '-';
  return `${user.id}  ${user.email}  ${state}  roles: ${roles}`;
}

/** AuthErrors (not found, last admin, weak password, taken email) become CommandErrors. */
async function refusals<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof AuthError) throw new CommandError(error.message);
    throw error;
  }
}

export async function createAdminCommand(
  admin: AdminService,
  input: { email: string; password: string; name?: string | undefined },
  out: CommandOutput,
): Promise<void> {
  if (input.password.length === 0) throw new CommandError('The password is empty.');
  const user = await refusals(() => admin.createAdmin(CLI, input)).catch((error: unknown) => {
    if (error instanceof CommandError && /already exists/.test(error.message)) {
      throw new CommandError(
        `${input.email} already has an account; to make it an admin: latchkey users set-roles ${input.email} admin`,
      );
    }
    throw error;
  });
  out.info(`Created the admin ${user.email} (${user.id}); they can sign in now.`);
}

export async function usersListCommand(
  admin: AdminService,
  options: { query?: string; role?: string; disabled?: boolean; limit?: string; cursor?: string },
  out: CommandOutput,
): Promise<void> {
  const limit = Number(options.limit ?? 50);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new CommandError('--limit must be a whole number from 1 to 1000.');
  }
  const page = await refusals(() =>
    admin.listUsers({
      q: options.query,
      role: options.role,
      disabled: options.disabled,
      cursor: options.cursor,
      limit,
    }),
  );
  for (const user of page.users) out.info(describe(user));
  if (page.users.length === 0) out.info('No users match.');
  if (page.nextCursor) out.info(`More: add --cursor ${page.nextCursor}`);
}

export async function setDisabledCommand(
  admin: AdminService,
  email: string,
  disabled: boolean,
  out: CommandOutput,
): Promise<void> {
  const user = await refusals(async () => {
    const found = await admin.findByEmail(email);
    return admin.updateUser(CLI, found.id, { disabled }, { ip: null, userAgent: null });
  });
  out.info(
    disabled
      ? `Disabled ${user.email}: every session and refresh token is revoked.`
      : `Enabled ${user.email}.`,
  );
}

export async function setRolesCommand(
  admin: AdminService,
  email: string,
  roles: string[],
  out: CommandOutput,
): Promise<void> {
  const names = roles
    .flatMap((r) => r.split(','))
    .map((r) => r.trim())
    .filter(Boolean);
  const user = await refusals(async () => {
    const found = await admin.findByEmail(email);
    return admin.updateUser(CLI, found.id, { roles: names }, { ip: null, userAgent: null });
  });
  out.info(`${user.email} now has the roles: ${user.roles.join(', ') || '(none)'}`);
}

/** The password from a hidden prompt (a terminal) or from standard input (a pipe). */
export async function readPassword(
  stdin: NodeJS.ReadStream = process.stdin,
  stderr: NodeJS.WriteStream = process.stderr,
): Promise<string> {
  if (!stdin.isTTY) {
    let text = '';
    stdin.setEncoding('utf8');
    for await (const chunk of stdin) text += chunk as string;
    return text.replace(/\r?\n$/, '');
  }
  const first = await promptHidden('Password: ', stdin, stderr);
  const second = await promptHidden('Password again: ', stdin, stderr);
  if (first !== second) throw new CommandError('The two passwords differ.');
  return first;
}

function promptHidden(
  prompt: string,
  stdin: NodeJS.ReadStream,
  stderr: NodeJS.WriteStream,
): Promise<string> {
  stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (error?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003' || ch === '\u0004') return done(new CommandError('Cancelled.'));
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

const console_: CommandOutput = {
  info: (line) => console.log(line),
  error: (line) => console.error(line),
};

/** Adds the commands to the CLI; `config` and `fail` are main.ts's. */
export function registerAdminCommands(
  program: Command,
  users: Command,
  helpers: { config: () => Config; fail: (error: unknown) => never },
): void {
  /** Opens and migrates the database, runs `work`, closes; refusals exit 1. */
  const withAdmin = async (work: (admin: AdminService) => Promise<void>) => {
    try {
      const config = helpers.config();
      const handle = await openDatabase(config);
      try {
        await migrate(handle.db);
        await work(adminServiceFor(config, handle.db));
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (error instanceof CommandError) {
        console.error(`latchkey: ${error.message}`);
        process.exit(1);
      }
      helpers.fail(error);
    }
  };

  program
    .command('create-admin')
    .description(
      'create a verified account with the admin role; the password is asked for (hidden), or read from standard input when piped, never from the command line',
    )
    .requiredOption('--email <email>', 'the new admin’s email address')
    .option('--name <name>', 'display name')
    .addHelpText(
      'after',
      '\nExample:\n  printf %s "$PASSWORD" | latchkey create-admin --email ada@example.com',
    )
    .action(async (options: { email: string; name?: string }) => {
      let password: string;
      try {
        password = await readPassword();
      } catch (error) {
        if (error instanceof CommandError) {
          console.error(`latchkey: ${error.message}`);
          process.exit(1);
        }
        throw error;
      }
      await withAdmin((admin) =>
        createAdminCommand(admin, { email: options.email, password, name: options.name }, console_),
      );
    });

  users
    .command('list')
    .description('list users, newest first')
    .option('--query <prefix>', 'email prefix (case-insensitive)')
    .option('--role <role>', 'only users with this role')
    .option('--disabled', 'only disabled users')
    .option('--limit <n>', 'users per page (default 50)')
    .option('--cursor <cursor>', 'the next page, as printed by the previous one')
    .action(
      (options: {
        query?: string;
        role?: string;
        disabled?: boolean;
        limit?: string;
        cursor?: string;
      }) => withAdmin((admin) => usersListCommand(admin, options, console_)),
    );

  users
    .command('disable')
    .argument('<email>', 'the account')
    .description('disable an account: every session and refresh token ends, sign-in is refused')
    .action((email: string) =>
      withAdmin((admin) => setDisabledCommand(admin, email, true, console_)),
    );

  users
    .command('enable')
    .argument('<email>', 'the account')
    .description('enable a disabled account')
    .action((email: string) =>
      withAdmin((admin) => setDisabledCommand(admin, email, false, console_)),
    );

  users
    .command('set-roles')
    .argument('<email>', 'the account')
    .argument('[roles...]', 'the roles it should have (none: remove every role)')
    .description('replace the roles of an account (refused if no enabled admin would be left)')
    .action((email: string, roles: string[]) =>
      withAdmin((admin) => setRolesCommand(admin, email, roles, console_)),
    );
}
