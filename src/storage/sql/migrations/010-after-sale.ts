import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * After the sale (issue 16): two head flags on records (a sealed delivery revealed, where a dispute
 * stands), sealed deliveries, disputes and their evidence files (bytes in the database, so a backup
 * of it holds them and every instance serves them).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;

  await db.schema
    .alterTable('records')
    .addColumn('revealed', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('records')
    .addColumn('dispute', 'text', (c) => c.notNull().defaultTo('none'))
    .execute();

  await db.schema
    .createTable('sealed_deliveries')
    .addColumn('record_id', 'text', (c) => c.primaryKey().references('records.id'))
    .addColumn('merchant_id', 'text', (c) => c.notNull())
    .addColumn('sealed_secret', 'text')
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('revealed_at', 'text')
    .execute();
  await sql`CREATE INDEX sealed_deliveries_live_idx ON sealed_deliveries (expires_at) WHERE sealed_secret IS NOT NULL`.execute(
    db,
  );

  await db.schema
    .createTable('disputes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('record_id', 'text', (c) => c.notNull().references('records.id'))
    .addColumn('merchant_id', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('opened_at', 'text', (c) => c.notNull())
    .addColumn('deadline_at', 'text', (c) => c.notNull())
    .addColumn('warned_at', 'text')
    .addColumn('response', 'text')
    .addColumn('answer', 'text')
    .addColumn('answered_at', 'text')
    .addColumn('decision', 'text')
    .addColumn('decided_by', 'text')
    .addColumn('decided_at', 'text')
    .addColumn('decision_note', 'text')
    .execute();
  await db.schema
    .createIndex('disputes_record_idx')
    .on('disputes')
    .columns(['record_id', 'opened_at'])
    .execute();
  await db.schema
    .createIndex('disputes_status_idx')
    .on('disputes')
    .columns(['status', 'deadline_at'])
    .execute();

  await db.schema
    .createTable('dispute_files')
    .addColumn('dispute_id', 'text', (c) => c.notNull().references('disputes.id'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('side', 'text', (c) => c.notNull())
    .addColumn('content_type', 'text', (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('bytes', sql.raw(postgres ? 'bytea' : 'blob'), (c) => c.notNull())
    .addPrimaryKeyConstraint('dispute_files_pk', ['dispute_id', 'position'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('proofmark migrations are forward-only: restore a backup to go back');
}
