import { z } from 'zod';
import { BOOLEAN_GRAMMAR, DURATION_FORMS } from './values.js';

/**
 * Every configuration variable carries its own documentation next to its schema, and
 * docs/configuration.md is generated from it (`npm run docs:config`), so the two cannot drift.
 */

/** The sections of docs/configuration.md, in order. */
export const GROUPS = {
  server: {
    title: 'Server and HTTP',
    intro:
      'Where Latchkey listens, the address it is reached at, and what it accepts from clients.',
  },
  database: {
    title: 'Database',
    intro:
      'The embedded database (PGlite in `DATA_DIR`) needs no setting; `DATABASE_URL` switches to PostgreSQL. See [operations](operations.md#running-on-postgresql).',
  },
  mail: {
    title: 'Mail',
    intro:
      'Mails are written to an outbox in the same transaction as their token and sent by a worker with retries.',
  },
  accounts: {
    title: 'Accounts and passwords',
    intro: 'Sign-up, the password policy and the lifetime of mailed links.',
  },
  hashing: {
    title: 'Password hashing',
    intro:
      'argon2id, computed off the event loop with a bounded queue. `latchkey hash calibrate` proposes `ARGON2_*` values for a machine ([CLI](cli.md)).',
  },
  sessions: {
    title: 'Sessions',
    intro: 'Cookie sessions: a random token in an `HttpOnly` cookie, only its SHA-256 stored.',
  },
  tokens: {
    title: 'Access and refresh tokens',
    intro: 'Token mode for APIs and other services ([tokens](tokens.md)).',
  },
  abuse: {
    title: 'Rate limits and the login throttle',
    intro:
      'A rate is `count/window` (`30/5m`: 30 requests per 5 minutes; the window is a duration in whole seconds: plain seconds or `s`, `m`, `h`, `d`), or `off` (or any other word for false). Over a limit the answer is `429 rate_limited` with `Retry-After` ([abuse protection](abuse-protection.md)).',
  },
  redis: {
    title: 'Redis (several instances)',
    intro:
      'Optional: shared rate limits, throttles and session-cache invalidation across instances. Without it, instances sharing a PostgreSQL database go through PostgreSQL.',
  },
  admin: {
    title: 'Admin, audit and metrics',
    intro: 'Roles, the audit trail and Prometheus metrics ([admin](admin.md)).',
  },
  webhooks: {
    title: 'Webhooks',
    intro:
      'Signed events to your app, written with the change that caused them and delivered by a worker with retries ([webhooks](webhooks.md)).',
  },
  web: {
    title: 'Web pages and branding',
    intro: 'Read at start: changing the branding needs no rebuild.',
  },
} as const;

export type Group = keyof typeof GROUPS;

export interface VariableDoc {
  group: Group;
  /** Markdown: what the variable does and what it accepts. */
  description: string;
  /** Markdown, for a default that is not a literal value of the schema (e.g. "CPU count"). */
  default?: string;
  /** A value as it would be written in the environment. */
  example?: string;
}

declare const documentedBrand: unique symbol;

/** A schema that went through `documented()`; the schema shapes accept nothing else. */
export type Documented<T extends z.ZodType = z.ZodType> = T & {
  readonly [documentedBrand]: VariableDoc;
};

const variableDocs = z.registry<VariableDoc>();

export function documented<T extends z.ZodType>(schema: T, doc: VariableDoc): Documented<T> {
  // A schema instance shared by two variables would end up with one variable's text.
  if (variableDocs.has(schema)) throw new Error('one schema instance documents one variable');
  variableDocs.add(schema, doc);
  return schema as Documented<T>;
}

export function docOf(schema: z.ZodType): VariableDoc | undefined {
  return variableDocs.get(schema);
}

/** The default as the documentation shows it; undefined when the variable has none. */
function defaultShown(schema: z.ZodType, doc: VariableDoc): string | undefined {
  if (doc.default !== undefined) return doc.default;
  if (schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault) {
    const value: unknown = schema.def.defaultValue;
    return `\`${String(value)}\``;
  }
  return undefined;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** docs/configuration.md before formatting (the generator and its test run prettier on it). */
export function renderConfigurationDoc(shape: Record<string, z.ZodType>): string {
  const byGroup = new Map<Group, string[]>();
  for (const [name, schema] of Object.entries(shape)) {
    const doc = docOf(schema);
    if (!doc) throw new Error(`${name} has no documentation`);
    const example = doc.example ? ` Example: \`${doc.example}\`.` : '';
    const row = `| \`${name}\` | ${cell(defaultShown(schema, doc) ?? '—')} | ${cell(doc.description + example)} |`;
    byGroup.set(doc.group, [...(byGroup.get(doc.group) ?? []), row]);
  }
  const groups = (Object.keys(GROUPS) as Group[]).filter((group) => byGroup.has(group));
  const lines = [
    '# Configuration',
    '',
    '<!-- Generated from packages/server/src/config by `npm run docs:config`: edit the schema there, not this file. -->',
    '',
    'Latchkey reads environment variables once at start. A `.env` file in the working directory is read too; variables already set win. An empty value counts as unset. A bad value stops the start (exit code 2) with a message naming each bad variable and what it expects.',
    '',
    'Every variable shares these grammars:',
    '',
    `- **Booleans**: ${BOOLEAN_GRAMMAR}. Anything else is refused.`,
    `- **Durations**: ${DURATION_FORMS}. Units are lower case.`,
    '',
    'In production (`NODE_ENV=production`) the start also requires an https `PUBLIC_URL` (unless loopback), `SMTP_URL`, `METRICS_TOKEN` (or `METRICS_PUBLIC=true`) and, with `DATABASE_URL`, `KEY_ENCRYPTION_SECRET`.',
    '',
    ...groups.map((group) => `- [${GROUPS[group].title}](#${anchor(GROUPS[group].title)})`),
  ];
  for (const group of groups) {
    lines.push(
      '',
      `## ${GROUPS[group].title}`,
      '',
      GROUPS[group].intro,
      '',
      '| Variable | Default | What it does |',
      '| --- | --- | --- |',
      ...(byGroup.get(group) ?? []),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
export function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}
