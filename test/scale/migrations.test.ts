/**
 * Migrations on PostgreSQL when several instances start at once: Kysely's migrator holds an advisory
 * lock, so racing opens all succeed and each migration is applied exactly once; a later open is a no-op.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { openStorage, type SqlStorage } from '../../src/storage/sql/open.ts';
import { createTestDatabase, postgresSkipReason, type TestDatabase } from '../helpers/databases.ts';

const TABLES = [
  'api_keys',
  'batches',
  'directory_pages',
  'directory_versions',
  'duplicate_refusals',
  'events',
  'leases',
  'merchant_evidence',
  'merchant_strikes',
  'merchants',
  'records',
  'scan_sightings',
  'scans',
  'secret_attempts',
  'tree_nodes',
  'unique_keys',
  'webhook_announcements',
  'webhook_attempts',
  'webhook_deliveries',
  'webhook_endpoints',
  'webhook_messages',
];

async function schemaSnapshot(open: SqlStorage) {
  const tables = await sql<{ table_name: string }>`
    SELECT table_name FROM information_schema.tables
    WHERE table_schema = 'public' ORDER BY table_name`.execute(open.db);
  const indexes = await sql<{ indexname: string }>`
    SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`.execute(open.db);
  const migrations = await sql<{ name: string; timestamp: string }>`
    SELECT name, timestamp FROM kysely_migration ORDER BY name`.execute(open.db);
  return {
    tables: tables.rows.map((r) => r.table_name),
    indexes: indexes.rows.map((r) => r.indexname),
    migrations: migrations.rows,
  };
}

describe('migrations on PostgreSQL', () => {
  let skip: string | null = null;
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    skip = await postgresSkipReason();
    if (!skip) database = await createTestDatabase('postgres');
  });
  afterAll(async () => database?.drop());

  it('instances racing to open one fresh database all succeed and apply each migration once', async (t) => {
    if (skip) return t.skip(skip);
    const opts = { databaseUrl: database!.databaseUrl, dataDir: database!.dataDir };
    // Four instances starting at the same moment, each with its own pool.
    const opened = await Promise.all([1, 2, 3, 4].map(() => openStorage(opts)));
    try {
      expect(opened.map((o) => o.kind)).toEqual(['postgres', 'postgres', 'postgres', 'postgres']);
      const snap = await schemaSnapshot(opened[0]!);
      for (const table of TABLES) expect(snap.tables).toContain(table);
      // 002 dropped the table 001 created and nothing ever used.
      expect(snap.tables).not.toContain('settings');
      expect(snap.tables).toContain('kysely_migration');
      expect(snap.tables).toContain('kysely_migration_lock');
      expect(snap.migrations.map((m) => m.name)).toEqual([
        '001-initial',
        '002-drop-settings',
        '003-secrets',
        '004-identity',
        '005-webhooks',
        '006-directory',
        '007-merchant-credit',
        '008-state-roots',
        '009-uniqueness',
        '010-after-sale',
      ]);
      expect(snap.indexes).toEqual(
        expect.arrayContaining([
          'events_pending_idx',
          'events_batch_idx',
          'records_plain_salt_idx',
          'unique_keys_live_idx',
          'webhook_deliveries_due_idx',
          'records_ended_idx',
          'events_dispute_idx',
        ]),
      );
      // Every instance sees the same schema, and each can use it.
      for (const o of opened) {
        expect(await schemaSnapshot(o)).toEqual(snap);
        await o.db.selectFrom('records').select('id').limit(1).execute();
      }

      // Opening again (a restart, a rolling deploy) changes nothing.
      const again = await Promise.all([1, 2].map(() => openStorage(opts)));
      try {
        for (const o of again) expect(await schemaSnapshot(o)).toEqual(snap);
      } finally {
        await Promise.all(again.map((o) => o.close()));
      }
      const lock = await sql<{ is_locked: number }>`SELECT is_locked FROM kysely_migration_lock`.execute(
        opened[0]!.db,
      );
      expect(lock.rows).toHaveLength(1);
    } finally {
      await Promise.all(opened.map((o) => o.close()));
    }
  });
});
