/**
 * An instance outlives its PostgreSQL connections: when the server drops an idle pooled connection
 * (a restart, a failover, an operator's pg_terminate_backend, a proxy's idle timeout), the pool
 * discards it and the next query opens a new one, instead of the process dying on an unhandled
 * 'error' event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { openStorage, type SqlStorage } from '../../src/storage/sql/open.ts';
import {
  createTestDatabase,
  POSTGRES_ADMIN_URL,
  postgresSkipReason,
  type TestDatabase,
} from '../helpers/databases.ts';

describe('PostgreSQL connections dropped by the server', () => {
  let skip: string | null = null;
  let database: TestDatabase | undefined;
  let opened: SqlStorage | undefined;
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);

  beforeAll(async () => {
    skip = await postgresSkipReason();
    if (skip) return;
    database = await createTestDatabase('postgres');
    opened = await openStorage({ databaseUrl: database.databaseUrl, dataDir: database.dataDir });
    process.on('uncaughtException', onUncaught);
  });
  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    await opened?.close();
    await database?.drop();
  });

  it('an idle connection terminated by the server is replaced, not fatal', async (t) => {
    if (skip) return t.skip(skip);
    const db = opened!.db;
    // Fill the pool with a few idle connections.
    await Promise.all([1, 2, 3].map(() => db.selectFrom('records').select('id').limit(1).execute()));

    const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
    await admin.connect();
    try {
      const name = new URL(database!.databaseUrl!).pathname.slice(1);
      const killed = await admin.query(
        'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [name],
      );
      expect(killed.rowCount).toBeGreaterThan(0);
    } finally {
      await admin.end();
    }
    // Let the termination notices arrive on the idle sockets.
    await new Promise((r) => setTimeout(r, 300));
    expect(uncaught).toEqual([]);
    const rows = await db.selectFrom('records').select('id').limit(1).execute();
    expect(rows).toEqual([]);
  });
});
