/**
 * Merchants admitted before names were unique, on SQLite and PostgreSQL: a database at the schema
 * before migration 003 holding confusable names migrates without failing; at start the oldest holder
 * of each name gets its key, later lookalikes keep their names without a key and are logged at warn
 * (at every start), and no new merchant can take the name.
 */
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyMerchantNames } from '../../src/service/merchant-names.ts';
import * as initial from '../../src/storage/sql/migrations/001-initial.ts';
import * as dropSettings from '../../src/storage/sql/migrations/002-drop-settings.ts';
import { BACKENDS, createTestDatabase, postgresSkipReason, type TestDatabase } from '../helpers/databases.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';

/** Merchants as an older release stored them (no name_key), oldest first. */
const LEGACY = [
  { id: 'm_alpha', name: 'Alpha Cards', created_at: '2025-01-01T00:00:00.000Z' },
  { id: 'm_alpha_cyrillic', name: '\u0410lpha Cards', created_at: '2025-02-01T00:00:00.000Z' },
  { id: 'm_alpha_upper', name: 'ALPHA CARDS', created_at: '2025-03-01T00:00:00.000Z' },
  { id: 'm_beta', name: 'Beta Keys', created_at: '2025-04-01T00:00:00.000Z' },
];

/** The database as release 002 left it, with the legacy merchants in it. */
async function seedBeforeMigration3(database: TestDatabase): Promise<void> {
  const db = new Kysely<unknown>({
    dialect: database.databaseUrl
      ? new PostgresDialect({ pool: new pg.Pool({ connectionString: database.databaseUrl }) })
      : new SqliteDialect({ database: new SQLite(join(database.dataDir, 'proofmark.sqlite')) }),
  });
  try {
    const migrator = new Migrator({
      db,
      provider: {
        getMigrations: async () => ({ '001-initial': initial, '002-drop-settings': dropSettings }),
      },
    });
    const { error } = await migrator.migrateToLatest();
    if (error) throw error;
    for (const m of LEGACY) {
      await (db as Kysely<{ merchants: Record<string, unknown> }>)
        .insertInto('merchants')
        .values({
          ...m,
          contact_email: null,
          status: 'verified',
          verified_at: m.created_at,
          suspended_at: null,
        })
        .execute();
    }
  } finally {
    await db.destroy();
  }
}

describe.each(BACKENDS)('merchant names admitted before the rule (%s)', (backend) => {
  let skip: string | null = null;
  let database: TestDatabase | undefined;
  let h: Harness | undefined;
  beforeAll(async () => {
    if (backend === 'postgres') skip = await postgresSkipReason();
    if (skip) return;
    database = await createTestDatabase(backend);
    await seedBeforeMigration3(database);
    h = await startHarness({ database, startBatcher: false });
  });
  afterAll(async () => {
    await h?.close();
    await database?.drop();
  });

  it('migrates, keys the oldest holder of each name, and leaves later lookalikes unkeyed', async (t) => {
    if (skip) return t.skip(skip);
    const stored = await h!.runtime.storage.db
      .selectFrom('merchants')
      .select(['id', 'name', 'name_key'])
      .orderBy('created_at')
      .execute();
    expect(stored.map((m) => [m.id, m.name_key !== null])).toEqual([
      ['m_alpha', true],
      ['m_alpha_cyrillic', false],
      ['m_alpha_upper', false],
      ['m_beta', true],
    ]);
    // Their names are kept as they were; the pages show them with their ids.
    expect(stored.map((m) => m.name)).toEqual(LEGACY.map((m) => m.name));
  });

  it('logs each lookalike at warn, naming the older holder, at every start', async (t) => {
    if (skip) return t.skip(skip);
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    await keyMerchantNames(h!.runtime.services.ctx, log);
    const warned = lines.map(
      (l) => JSON.parse(l) as { merchantId: string; sameNameAs: string; level: number },
    );
    expect(warned.map((w) => [w.merchantId, w.sameNameAs])).toEqual([
      ['m_alpha_cyrillic', 'm_alpha'],
      ['m_alpha_upper', 'm_alpha'],
    ]);
    expect(warned.every((w) => w.level === 40)).toBe(true);
  });

  it('refuses a new merchant whose name reads like any of them', async (t) => {
    if (skip) return t.skip(skip);
    for (const name of ['alpha cards', 'Alpha Cards', 'BETA KEYS']) {
      const res = await h!.admin('POST', '/v1/merchants', { name });
      expect(res.statusCode, name).toBe(409);
      expect(res.json().code).toBe('merchant_name_taken');
    }
    expect((await h!.admin('POST', '/v1/merchants', { name: 'Gamma Keys' })).statusCode).toBe(201);
  });
});
