import type { Kysely } from 'kysely';

/**
 * Each batch's item-directory root, anchored beside its batch root (BatchRow.state_root). Null for
 * the batches sealed before it: their directory versions exist (catchUpDirectory) but no chain holds
 * their roots.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('batches').addColumn('state_root', 'text').execute();
}

export async function down(): Promise<void> {
  throw new Error('proofmark migrations are forward-only: restore a backup to go back');
}
