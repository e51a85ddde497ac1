/**
 * Multi-row inserts compiled once (src/storage/sql/compiled.ts): the rows read back are the rows
 * given, value for value and null for null, on both backends, whether the statement was compiled
 * for the call, reused from the cache, or built by Kysely for rows it does not cache.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage, type SqlStorage } from '../../src/storage/sql/open.ts';
import type { RecordRow } from '../../src/storage/rows.ts';
import { BACKENDS, createTestDatabase, postgresSkipReason, type TestDatabase } from '../helpers/databases.ts';
import { merchantRow, recordRow } from './fixtures.ts';

for (const backend of BACKENDS) {
  const skip = backend === 'postgres' ? await postgresSkipReason() : null;
  describe.skipIf(skip !== null)(`compiled inserts on ${backend}`, () => {
    let database: TestDatabase | undefined;
    let storage: SqlStorage | undefined;
    beforeAll(async () => {
      database = await createTestDatabase(backend);
      storage = await openStorage({ databaseUrl: database.databaseUrl, dataDir: database.dataDir });
      await storage.merchants.insert(merchantRow('m1'));
    });
    afterAll(async () => {
      await storage?.close();
      await database?.drop();
    });

    const rows = (prefix: string, n: number): RecordRow[] =>
      Array.from({ length: n }, (_, i) =>
        recordRow(`${prefix}-${i}`, 'm1', `${prefix}-ext-${String(i).padStart(4, '0')}`, {
          // Every other row with a salt and a commitment, so nulls and values share a column.
          secret_salt: i % 2 === 0 ? null : `v1.sealed-${i}`,
          secret_commitment: i % 2 === 0 ? null : `0x${i.toString(16).padStart(64, '0')}`,
          product_name: `Product ${i} «ünïcödé» 'quoted'`,
          head_seq: i,
        }),
      );

    async function readBack(prefix: string, n: number): Promise<RecordRow[]> {
      const found = await storage!.records.byExternalIds(
        'm1',
        Array.from({ length: n }, (_, i) => `${prefix}-ext-${String(i).padStart(4, '0')}`),
      );
      return found.sort((a, b) => (a.external_id < b.external_id ? -1 : 1));
    }

    it.each([
      ['one row', 'a', 1],
      ['a few rows', 'b', 7],
      ['the same count again (the cached statement)', 'c', 7],
      ['a full slice and a part', 'd', 1003],
    ])('%s: reads back what was written', async (_, prefix, n) => {
      const written = rows(prefix, n);
      await storage!.transaction((tx) => tx.records.insertMany(written));
      expect(await readBack(prefix, n)).toEqual(
        [...written].sort((a, b) => (a.external_id < b.external_id ? -1 : 1)),
      );
    });

    it('rows with other columns than the first take the builder and read back as written', async () => {
      const written = rows('e', 3);
      const { secret_salt: _, ...withoutSalt } = written[1]!;
      const mixed = [written[0]!, withoutSalt as RecordRow, written[2]!];
      await storage!.records.insertMany(mixed);
      const back = await readBack('e', 3);
      expect(back[1]!.secret_salt).toBeNull();
      expect(back[0]).toEqual(written[0]);
      expect(back[2]).toEqual(written[2]);
    });
  });
}
