import type { Kysely } from 'kysely';

/**
 * Each sign-up for an unverified address is its own attempt: the password hash and name chosen
 * by whoever signed up travel with that attempt's verification token, so a link activates only
 * the password of the sign-up that mailed it. Tokens without them (older ones, and those of
 * REQUIRE_EMAIL_VERIFICATION=false) only confirm the address.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('email_tokens')
    .addColumn('password_hash', 'text')
    .addColumn('name', 'text')
    .execute();
}
