import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * The item directory (src/core/directory): one row per version (batch), and its pages under (version,
 * path), every version kept. Keyed by version first, a seal's pages go in side by side at the end of
 * the table instead of into pages all over it. On SQLite the pages table is WITHOUT ROWID: the
 * primary key is the table, and (version, path) is not stored twice.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;

  await db.schema
    .createTable('directory_versions')
    .addColumn('version', 'integer', (c) => c.primaryKey())
    .addColumn('root', 'text', (c) => c.notNull())
    .addColumn('record_count', 'integer', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('directory_pages')
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('page', sql.raw(postgres ? 'bytea' : 'blob'), (c) => c.notNull())
    .addPrimaryKeyConstraint('directory_pages_pk', ['version', 'path'])
    .$call((table) => (postgres ? table : table.modifyEnd(sql`WITHOUT ROWID`)))
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('proofmark migrations are forward-only: restore a backup to go back');
}
