import { sql, type Kysely } from 'kysely';

/**
 * Indexes for a merchant's credit figures (MerchantStore.credit), so they cost no scan of a large
 * merchant's events. Both are partial, so the hot writes (registration, ordinary events) do not
 * maintain them: only records that ended, and only dispute events. Their predicates are literals,
 * and the queries in ../merchants.ts repeat them word for word: that is what lets SQLite (which
 * matches terms) and PostgreSQL (which proves implication) use a partial index.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX records_ended_idx ON records (merchant_id, state) WHERE state <> 'active'`.execute(
    db,
  );
  await sql`CREATE INDEX events_dispute_idx ON events (record_id, seq) WHERE type IN ('dispute_opened', 'dispute_answered', 'dispute_decided')`.execute(
    db,
  );
}

export async function down(): Promise<void> {
  throw new Error('proofmark migrations are forward-only: restore a backup to go back');
}
