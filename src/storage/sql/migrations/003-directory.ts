import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * The item directory (src/core/directory): one row per version (batch), and its nodes under (path,
 * version), every version kept. On SQLite the nodes table is WITHOUT ROWID, so the primary key is
 * the table and (path, version) is not stored twice.
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
    .createTable('directory_nodes')
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('node', sql.raw(postgres ? 'bytea' : 'blob'), (c) => c.notNull())
    .addPrimaryKeyConstraint('directory_nodes_pk', ['path', 'version'])
    .$call((table) => (postgres ? table : table.modifyEnd(sql`WITHOUT ROWID`)))
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('proofmark migrations are forward-only: restore a backup to go back');
}
