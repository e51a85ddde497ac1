import type { Kysely } from 'kysely';

/** The `settings` table of 001 was never read or written. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('settings').ifExists().execute();
}

export async function down(): Promise<void> {
  throw new Error('proofmark migrations are forward-only: restore a backup to go back');
}
