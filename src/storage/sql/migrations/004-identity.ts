import { sql, type Kysely } from 'kysely';

/**
 * Who is speaking, and who scanned: merchant names get a unique key, and scans are counted once per
 * scanner and window through a table of sightings.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // Null for every merchant admitted so far: the service keys them at start (a key an older merchant
  // already holds stays null), so a name that now collides never fails the migration.
  await db.schema.alterTable('merchants').addColumn('name_key', 'text').execute();
  await db.schema.createIndex('merchants_name_key_uq').unique().on('merchants').column('name_key').execute();

  await db.schema
    .createTable('scan_sightings')
    .addColumn('record_id', 'text', (c) => c.notNull().references('records.id'))
    .addColumn('window_index', 'integer', (c) => c.notNull())
    .addColumn('scanner', 'text', (c) => c.notNull())
    .addColumn('seen_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('scan_sightings_pk', ['record_id', 'window_index', 'scanner'])
    .execute();
  // Pruning takes the oldest windows.
  await db.schema
    .createIndex('scan_sightings_window_idx')
    .on('scan_sightings')
    .column('window_index')
    .execute();

  // Counts so far were requests, which anyone could inflate: all they show for sure is that someone
  // scanned the code. Each record keeps its first and last scan times and starts again from one.
  await sql`UPDATE scans SET count = 1 WHERE count > 1`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('proofmark migrations are forward-only: restore a backup to go back');
}
