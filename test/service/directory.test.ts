/**
 * The directory service on SQLite and PostgreSQL: a few thousand records (pages three levels deep),
 * all of them changed by a later batch, proved at every batch from the database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catchUpDirectory } from '../../src/service/directory.ts';
import { openStorage, type SqlStorage } from '../../src/storage/sql/open.ts';
import { BACKENDS, createTestDatabase, postgresSkipReason, type TestDatabase } from '../helpers/databases.ts';
import { DirectoryHistory, type Step } from './directory-history.ts';

const RECORDS = 2500;

for (const backend of BACKENDS) {
  const skip = backend === 'postgres' ? await postgresSkipReason() : null;
  describe.skipIf(skip !== null)(`directory on ${backend}`, () => {
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

    it(`seals ${RECORDS} records, then an event on each, and proves them as of each batch`, async () => {
      const history = new DirectoryHistory(storage!);
      const steps: Step[] = [
        { kind: 'register', count: RECORDS },
        { kind: 'seal', maxLeaves: RECORDS },
        ...Array.from({ length: RECORDS }, (_, i): Step => ({
          kind: 'event',
          pick: i,
          type: i % 5 ? 'sold' : 'revoked',
        })),
        { kind: 'seal', maxLeaves: 2 * RECORDS },
        { kind: 'register', count: 40 },
        ...Array.from({ length: 40 }, (_, i): Step => ({ kind: 'event', pick: 7 * i, type: 'activated' })),
        { kind: 'seal', maxLeaves: 30 },
      ];
      await history.run(steps);
      expect([...history.versions.keys()]).toEqual([1, 2, 3, 4]);
      expect(await catchUpDirectory({ storage: storage! })).toBe(0);
      await history.check(history.recordIds.filter((_, i) => i % 13 === 0 || i >= RECORDS));
    }, 600_000);
  });
}
