import type { Kysely } from 'kysely';

/**
 * Refresh successors are derived, not stored: a retry within the reuse grace window recomputes
 * its answer from the token it presents (core/tokens-service.ts). The sealed pairs are erased
 * and their index dropped; so is the family index, since a family is revoked with its session.
 * With no index on what an exchange changes, marking a token used can be a HOT update.
 * The emptied `successor_sealed` column stays for one release: instances of the previous one
 * still write it while a rolling upgrade replaces them.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const tokens = db as Kysely<{ refresh_tokens: { successor_sealed: string | null } }>;
  await db.schema.dropIndex('refresh_tokens_sealed_idx').execute();
  await db.schema.dropIndex('refresh_tokens_family_idx').execute();
  await tokens
    .updateTable('refresh_tokens')
    .set({ successor_sealed: null })
    .where('successor_sealed', 'is not', null)
    .execute();
}
