/**
 * The write-behind scan counter tells the truth while it flushes: counts taken out of memory by a
 * flush that has not committed yet are neither in memory nor in the table, and a read in that
 * window must still see them (it waits for the flush). On SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScanCounter } from '../../src/service/scans.ts';
import { BACKENDS, postgresSkipReason } from '../helpers/databases.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { registerMany } from '../helpers/records.ts';

describe.each(BACKENDS)('scan counts while flushing (%s)', (backend) => {
  let h: Harness;
  let skip: string | null = null;
  let recordIds: string[];

  beforeAll(async () => {
    if (backend === 'postgres') skip = await postgresSkipReason();
    if (skip) return;
    h = await startHarness({ backend, startBatcher: false });
    const { apiKey } = await h.verifiedMerchant('Scan Shop');
    recordIds = await registerMany(h, apiKey, 'scans', 50);
  });
  afterAll(async () => h?.close());

  it('reads during a flush, and after it, count every scan exactly once', async (t) => {
    if (skip) return t.skip(skip);
    const counter = new ScanCounter(h.runtime.storage.scans, 60_000);
    const at = '2026-11-24T00:00:00.000Z';
    for (let round = 1; round <= 3; round++) {
      for (const id of recordIds) await counter.count(id, at);
      const flushing = counter.flush();
      // Asked while the flush's transaction is still open: the counts are in flight.
      const during = await Promise.all(recordIds.map((id) => counter.stats(id)));
      await flushing;
      const after = await Promise.all(recordIds.map((id) => counter.stats(id)));
      expect(during.map((s) => s.count)).toEqual(recordIds.map(() => round));
      expect(after.map((s) => s.count)).toEqual(recordIds.map(() => round));
    }
    expect((await counter.stats(recordIds[0]!)).firstAt).toBe(at);
  });
});
