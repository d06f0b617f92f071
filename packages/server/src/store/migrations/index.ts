import type { Kysely } from 'kysely';
import * as initial from './0001_initial.js';
import * as tokens from './0003_tokens.js';
import * as abuse from './0004_abuse.js';
import * as rbac from './0005_rbac.js';
import * as signupAttempts from './0006_signup_attempts.js';
import * as mfa from './0007_mfa.js';
import * as webhooks from './0008_webhooks.js';
import * as refreshSuccessors from './0009_refresh_successors.js';

export interface Migration {
  version: number;
  name: string;
  up(db: Kysely<unknown>): Promise<void>;
}

/** Every migration, in order. Append only: never edit or reorder one that has shipped. */
export const migrations: Migration[] = [
  { version: 1, name: 'initial', up: initial.up },
  { version: 3, name: 'tokens', up: tokens.up },
  { version: 4, name: 'abuse', up: abuse.up },
  { version: 5, name: 'rbac', up: rbac.up },
  { version: 6, name: 'signup_attempts', up: signupAttempts.up },
  { version: 7, name: 'mfa', up: mfa.up },
  { version: 8, name: 'webhooks', up: webhooks.up },
  { version: 9, name: 'refresh_successors', up: refreshSuccessors.up },
];
