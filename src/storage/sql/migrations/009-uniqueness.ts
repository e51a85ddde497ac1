import { sql, type Kysely } from 'kysely';

/**
 * One key, one sale (service/uniqueness.ts): the keys records hold once on the platform, and the log
 * of refused duplicates. The unique index is partial, over live rows only, so a record that ends
 * frees its keys while its rows stay to say who held them. Records registered before this migration
 * get no rows: their secrets were never kept, so there is nothing to index.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('unique_keys')
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('record_id', 'text', (c) => c.notNull().references('records.id'))
    .addColumn('merchant_id', 'text', (c) => c.notNull())
    .addColumn('ended', 'integer', (c) => c.notNull())
    .addColumn('reissue_of', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('unique_keys_pk', ['key', 'record_id'])
    .execute();
  await sql`CREATE UNIQUE INDEX unique_keys_live_idx ON unique_keys (key) WHERE ended = 0`.execute(db);
  await db.schema.createIndex('unique_keys_record_idx').on('unique_keys').column('record_id').execute();

  await db.schema
    .createTable('duplicate_refusals')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('merchant_id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('existing_record_id', 'text')
    .addColumn('existing_merchant_id', 'text')
    .addColumn('external_id', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('duplicate_refusals_merchant_idx')
    .on('duplicate_refusals')
    .columns(['merchant_id', 'at'])
    .execute();
  await db.schema.createIndex('duplicate_refusals_at_idx').on('duplicate_refusals').column('at').execute();
}

export async function down(): Promise<void> {
  throw new Error('proofmark migrations are forward-only: restore a backup to go back');
}
