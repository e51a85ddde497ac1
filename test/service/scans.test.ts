/**
 * The write-behind scan counter tells the truth while it flushes: sightings taken out of memory by a
 * flush that has not committed yet are neither in memory nor in the table, and a read in that
 * window must still see them (it waits for the flush). Two counters on one database (two instances)
 * count a scanner once between them. On SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, ScanCounter } from '../../src/service/scans.ts';
import { ServerKey } from '../../src/service/server-key.ts';
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
    const counter = new ScanCounter(h.runtime.storage.scans, {
      keys: ServerKey.generate(),
      windowMs: 30 * DAY_MS,
      flushMs: 60_000,
    });
    const at = '2026-11-24T00:00:00.000Z';
    for (let round = 1; round <= 3; round++) {
      // A new network each round, asking twice: one more scanner.
      const scan = { method: 'GET', ip: `198.51.${round}.7`, headers: {} };
      for (const id of recordIds) {
        await counter.count(id, scan, at);
        await counter.count(id, scan, at);
      }
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

  it('two instances seeing the same scanners count each once between them', async (t) => {
    if (skip) return t.skip(skip);
    const keys = ServerKey.generate();
    const [a, b] = [1, 2].map(
      () => new ScanCounter(h.runtime.storage.scans, { keys, windowMs: 30 * DAY_MS, flushMs: 60_000 }),
    ) as [ScanCounter, ScanCounter];
    const id = recordIds[1]!;
    const before = (await a.stats(id)).count;
    const at = '2026-11-25T00:00:00.000Z';
    for (const ip of ['203.0.113.9', '2001:db8:1:2:aaaa::1', '2001:db8:1:2:bbbb::2', '203.0.113.200']) {
      const scan = { method: 'GET', ip, headers: {} };
      await a.count(id, scan, at);
      await b.count(id, scan, at);
    }
    await Promise.all([a.flush(), b.flush()]);
    // Two networks: 203.0.113.0/24 and 2001:db8:1:2::/64.
    expect((await a.stats(id)).count).toBe(before + 2);
    expect((await b.stats(id)).count).toBe(before + 2);
  });
});
