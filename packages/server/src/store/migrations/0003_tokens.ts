import { type Kysely, sql } from 'kysely';

/** Access-token signing keys and rotating refresh tokens. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('signing_keys')
    .addColumn('kid', 'text', (c) => c.primaryKey())
    .addColumn('algorithm', 'text', (c) => c.notNull())
    /** The public JWK (JSON), published at /.well-known/jwks.json. */
    .addColumn('public_jwk', 'text', (c) => c.notNull())
    /** The private JWK, AES-256-GCM encrypted with the key-encryption key (see core/keys.ts). */
    .addColumn('private_key_encrypted', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    /** Set when a newer key took over; the key stays published until its tokens expire. */
    .addColumn('retired_at', 'timestamptz')
    .execute();
  // At most one current (unretired) key.
  await db.schema
    .createIndex('signing_keys_current_key')
    .on('signing_keys')
    .unique()
    .expression(sql`(retired_at is null)`)
    .where(sql.ref('retired_at'), 'is', null)
    .execute();

  await db.schema
    .createTable('refresh_tokens')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    /** Every token descended from one sign-in; it belongs to one session. */
    .addColumn('family_id', 'uuid', (c) => c.notNull())
    .addColumn('session_id', 'uuid', (c) =>
      c.notNull().references('sessions.id').onDelete('cascade'),
    )
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('parent_id', 'uuid')
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    /** When it was exchanged for its successor (rotation); a second use is a reuse. */
    .addColumn('used_at', 'timestamptz')
    .addColumn('successor_id', 'uuid')
    /**
     * The successor pair, AES-256-GCM encrypted, kept only for the reuse grace window so that
     * racing refreshes get the same answer; erased after it.
     */
    .addColumn('successor_sealed', 'text')
    .addColumn('revoked_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('refresh_tokens_family_idx')
    .on('refresh_tokens')
    .column('family_id')
    .execute();
  await db.schema
    .createIndex('refresh_tokens_session_idx')
    .on('refresh_tokens')
    .column('session_id')
    .execute();
  await db.schema
    .createIndex('refresh_tokens_sealed_idx')
    .on('refresh_tokens')
    .column('used_at')
    .where(sql.ref('successor_sealed'), 'is not', null)
    .execute();
}
