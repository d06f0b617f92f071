import { type Kysely, sql } from 'kysely';

/**
 * Second factors: authenticator-app secrets, recovery codes, passkeys, the pending sign-ins
 * between a password and its second step, WebAuthn challenges, and how each session signed in
 * (`amr`, `authenticated_at`).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // Space-separated RFC 8176 values; sessions opened before this migration signed in by password.
  await db.schema
    .alterTable('sessions')
    .addColumn('amr', 'text', (c) => c.notNull().defaultTo('pwd'))
    .addColumn('authenticated_at', 'timestamptz')
    .execute();
  await sql`update sessions set authenticated_at = created_at`.execute(db);
  await db.schema
    .alterTable('sessions')
    .alterColumn('authenticated_at', (c) => c.setNotNull())
    .execute();

  await db.schema
    .createTable('mfa_totp')
    .addColumn('user_id', 'uuid', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    // AES-256-GCM under a key derived from the key-encryption secret.
    .addColumn('secret_encrypted', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('confirmed_at', 'timestamptz')
    // The newest time step accepted: no code of it or before it is accepted again.
    .addColumn('last_used_step', 'bigint')
    .execute();

  await db.schema
    .createTable('mfa_recovery_codes')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    // HMAC-SHA256 keyed from the key-encryption secret: the database alone cannot test guesses.
    .addColumn('code_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('mfa_recovery_codes_user_idx')
    .on('mfa_recovery_codes')
    .columns(['user_id', 'code_hash'])
    .execute();

  await db.schema
    .createTable('passkeys')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('credential_id', 'text', (c) => c.notNull().unique())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('counter', 'bigint', (c) => c.notNull())
    .addColumn('transports', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('device_type', 'text', (c) => c.notNull())
    .addColumn('backed_up', 'boolean', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_used_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('passkeys_user_idx').on('passkeys').column('user_id').execute();

  await db.schema
    .createTable('mfa_pending')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    // 'cookie' (POST /auth/login) or 'token' (POST /auth/token): each finishes only its own way.
    .addColumn('purpose', 'text', (c) => c.notNull().check(sql`purpose in ('cookie', 'token')`))
    .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('challenge', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('mfa_pending_expires_idx')
    .on('mfa_pending')
    .column('expires_at')
    .execute();

  await db.schema
    .createTable('webauthn_challenges')
    .addColumn('challenge', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('purpose', 'text', (c) => c.notNull().check(sql`purpose in ('register', 'login')`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('webauthn_challenges_expires_idx')
    .on('webauthn_challenges')
    .column('expires_at')
    .execute();
}
