import { sql, type Kysely } from 'kysely';

/**
 * Secret checks counted per record (service/secret-attempts.ts), and an index that finds the salts
 * older versions stored in the clear, so sealing them at start reads only those and, once none is
 * left, costs nothing. The partial index's predicate is a literal: both planners use it only for a
 * query that repeats it word for word (records.ts).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('secret_attempts')
    .addColumn('record_id', 'text', (c) => c.primaryKey().references('records.id'))
    .addColumn('window_start', 'text', (c) => c.notNull())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .execute();
  await sql`CREATE INDEX records_plain_salt_idx ON records (id) WHERE secret_salt LIKE '0x%'`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('proofmark migrations are forward-only: restore a backup to go back');
}
