import { PostgresAdapter, sql, type Kysely } from 'kysely';

/** The first schema. The only dialect difference is the blob type. */
export async function up(db: Kysely<unknown>): Promise<void> {
  const blob = db.getExecutor().adapter instanceof PostgresAdapter ? 'bytea' : 'blob';

  await db.schema
    .createTable('merchants')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('contact_email', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('verified_at', 'text')
    .addColumn('suspended_at', 'text')
    .execute();

  await db.schema
    .createTable('merchant_evidence')
    .addColumn('merchant_id', 'text', (c) => c.notNull().references('merchants.id'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('added_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('merchant_evidence_pk', ['merchant_id', 'position'])
    .execute();

  await db.schema
    .createTable('merchant_strikes')
    .addColumn('merchant_id', 'text', (c) => c.notNull().references('merchants.id'))
    .addColumn('number', 'integer', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('merchant_strikes_pk', ['merchant_id', 'number'])
    .execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('key_hash', 'text', (c) => c.primaryKey())
    .addColumn('merchant_id', 'text', (c) => c.notNull().references('merchants.id'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .execute();

  await db.schema
    .createTable('records')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('merchant_id', 'text', (c) => c.notNull().references('merchants.id'))
    .addColumn('external_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('sku', 'text', (c) => c.notNull())
    .addColumn('product_name', 'text', (c) => c.notNull())
    .addColumn('serial', 'text', (c) => c.notNull())
    .addColumn('metadata', 'text', (c) => c.notNull())
    .addColumn('secret_salt', 'text')
    .addColumn('secret_commitment', 'text')
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('head_seq', 'integer', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('sold', 'integer', (c) => c.notNull())
    .addColumn('activated', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('records_merchant_external_uq', ['merchant_id', 'external_id'])
    .execute();

  await db.schema
    .createTable('events')
    .addColumn('record_id', 'text', (c) => c.notNull().references('records.id'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('leaf', 'text', (c) => c.notNull())
    .addColumn('prev_leaf', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('batch_id', 'integer')
    .addColumn('leaf_index', 'integer')
    .addPrimaryKeyConstraint('events_pk', ['record_id', 'seq'])
    .execute();
  // Sealing takes the oldest unbatched events; a partial index keeps that cheap however many are sealed.
  await sql`CREATE INDEX events_pending_idx ON events (created_at, record_id, seq) WHERE batch_id IS NULL`.execute(
    db,
  );
  // Partial, so the planner never prefers it for the pending (batch_id IS NULL) queries above.
  await sql`CREATE UNIQUE INDEX events_batch_idx ON events (batch_id, leaf_index) WHERE batch_id IS NOT NULL`.execute(
    db,
  );

  await db.schema
    .createTable('batches')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('root', 'text', (c) => c.notNull())
    .addColumn('leaf_count', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('sealed_at', 'text', (c) => c.notNull())
    .addColumn('raw_tx', 'text')
    .addColumn('tx_hash', 'text')
    .addColumn('block_number', 'bigint')
    .addColumn('block_hash', 'text')
    .addColumn('anchored_at', 'text')
    .addColumn('final_at', 'text')
    .addColumn('chain_root', 'text')
    .execute();

  await db.schema
    .createTable('tree_nodes')
    .addColumn('batch_id', 'integer', (c) => c.notNull().references('batches.id'))
    .addColumn('level', 'integer', (c) => c.notNull())
    .addColumn('chunk', 'integer', (c) => c.notNull())
    .addColumn('nodes', sql.raw(blob), (c) => c.notNull())
    .addPrimaryKeyConstraint('tree_nodes_pk', ['batch_id', 'level', 'chunk'])
    .execute();

  await db.schema
    .createTable('scans')
    .addColumn('record_id', 'text', (c) => c.primaryKey().references('records.id'))
    .addColumn('count', 'integer', (c) => c.notNull())
    .addColumn('first_at', 'text', (c) => c.notNull())
    .addColumn('last_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('leases')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('token', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('settings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('proofmark migrations are forward-only: restore a backup to go back');
}
