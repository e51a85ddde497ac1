/**
 * The storage behaviour suite on the SQL backends, SQLite and PostgreSQL. One database per backend,
 * emptied before each test (creating a PostgreSQL database per test cost a second a test). Without
 * a PostgreSQL server its half is skipped; on CI it fails.
 */
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe } from 'vitest';
import { openStorage, type SqlStorage } from '../../src/storage/sql/open.ts';
import { BACKENDS, createTestDatabase, postgresSkipReason, type TestDatabase } from '../helpers/databases.ts';
import { describeStorageBehaviour } from './behaviour.ts';

/** Deletes every row the stores keep; the migrations' own bookkeeping stays. */
async function emptyTables(db: Kysely<unknown>, backend: TestDatabase['backend']): Promise<void> {
  const tables = (await db.introspection.getTables()).filter((t) => !t.isView).map((t) => t.name);
  if (backend === 'postgres') {
    await sql`TRUNCATE TABLE ${sql.join(tables.map((t) => sql.table(t)))}`.execute(db);
    return;
  }
  // SQLite checks foreign keys row by row; with one connection, switching them off here is safe.
  await sql`PRAGMA foreign_keys = OFF`.execute(db);
  try {
    for (const table of tables) await sql`DELETE FROM ${sql.table(table)}`.execute(db);
  } finally {
    await sql`PRAGMA foreign_keys = ON`.execute(db);
  }
}

for (const backend of BACKENDS) {
  const skip = backend === 'postgres' ? await postgresSkipReason() : null;
  describe.skipIf(skip !== null)(backend, () => {
    let database: TestDatabase | undefined;
    let storage: SqlStorage | undefined;
    beforeAll(async () => {
      database = await createTestDatabase(backend);
      storage = await openStorage({ databaseUrl: database.databaseUrl, dataDir: database.dataDir });
    });
    afterAll(async () => {
      await storage?.close();
      await database?.drop();
    });

    describeStorageBehaviour(
      backend,
      async () => {
        await emptyTables(storage!.db as unknown as Kysely<unknown>, backend);
        return storage!;
      },
      // Kept open for the next test; closed once, after the last.
      async () => {},
    );
  });
}
