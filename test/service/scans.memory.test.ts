/**
 * Scan counts written behind (src/service/scans.ts) on the memory store: totals include what waits
 * in memory, a flush is one write, a read during a flush counts every scan once, and a failed flush
 * puts its counts back for the next one.
 */
import { describe, expect, it, vi } from 'vitest';
import { ScanCounter, SUSPICIOUS_SCANS } from '../../src/service/scans.ts';
import { InjectedStorageFailure } from '../../src/storage/memory/faults.ts';
import { MemoryStorage } from '../../src/storage/memory/memory-storage.ts';
import { merchantRow, recordRow } from '../storage/fixtures.ts';

/** Seconds after a fixed instant, as ISO text. */
const at = (s: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, s)).toISOString();

/**
 * A counter over a memory store holding records r1 and r2. Flushes happen only when the test calls
 * flush() (the timer is an hour); each test ends with a successful flush, which clears the timer.
 */
async function counter() {
  const storage = new MemoryStorage();
  await storage.merchants.insert(merchantRow('m1'));
  await storage.records.insertMany([recordRow('r1', 'm1'), recordRow('r2', 'm1')]);
  return { storage, scans: new ScanCounter(storage.scans, 3_600_000) };
}

/** A promise and the function that settles it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe('scan counts on the memory store', () => {
  it('totals include scans not yet flushed; suspicious past SUSPICIOUS_SCANS', async () => {
    const { scans } = await counter();
    expect(await scans.stats('r1')).toEqual({ count: 0, firstAt: null, suspicious: false });
    expect(await scans.count('r1', at(1))).toEqual({ count: 1, firstAt: at(1), suspicious: false });
    for (let i = 2; i <= SUSPICIOUS_SCANS; i++) await scans.count('r1', at(i));
    expect(await scans.stats('r1')).toMatchObject({ count: SUSPICIOUS_SCANS, suspicious: false });
    expect(await scans.count('r1', at(59))).toEqual({
      count: SUSPICIOUS_SCANS + 1,
      firstAt: at(1),
      suspicious: true,
    });
    await scans.flush();
  });

  it('a flush stores every waiting count in one write; totals stay the same across it', async () => {
    const { storage, scans } = await counter();
    const add = vi.spyOn(storage.scans, 'add');
    await scans.flush();
    expect(add).not.toHaveBeenCalled();
    await scans.count('r1', at(1));
    await scans.count('r1', at(2));
    await scans.count('r2', at(3));
    await scans.flush();
    expect(add).toHaveBeenCalledTimes(1);
    expect(add.mock.calls[0]![0]).toEqual([
      { record_id: 'r1', count: 2, first_at: at(1), last_at: at(2) },
      { record_id: 'r2', count: 1, first_at: at(3), last_at: at(3) },
    ]);
    expect(await storage.scans.get('r1')).toEqual({
      record_id: 'r1',
      count: 2,
      first_at: at(1),
      last_at: at(2),
    });
    await scans.count('r1', at(4));
    expect(await scans.stats('r1')).toEqual({ count: 3, firstAt: at(1), suspicious: false });
    await scans.flush();
    expect(await storage.scans.get('r1')).toMatchObject({ count: 3, first_at: at(1), last_at: at(4) });
  });

  it('a read while a flush is in flight counts every scan once, also those counted meanwhile', async () => {
    const { storage, scans } = await counter();
    await scans.count('r1', at(1));
    await scans.count('r1', at(2));
    // Hold the store, so the flush's write waits with its counts out of memory and not yet stored.
    const held = gate();
    const holding = storage.transaction(() => held.opened);
    const flushing = scans.flush();
    const during = scans.stats('r1');
    // Counted at once; its totals, like the read's, wait for the flush.
    const counted = scans.count('r1', at(3));
    held.open();
    await Promise.all([holding, flushing]);
    expect(await during).toMatchObject({ count: 3 });
    expect(await counted).toMatchObject({ count: 3 });
    expect(await scans.stats('r1')).toMatchObject({ count: 3, firstAt: at(1) });
    await scans.flush();
    expect(await storage.scans.get('r1')).toMatchObject({ count: 3 });
  });

  it('a flush refused before it persists puts its counts back; the next flush stores them once', async () => {
    const { storage, scans } = await counter();
    await scans.count('r1', at(1));
    storage.faults.failNext('scans.add', 'before-persist');
    await scans.flush();
    expect(storage.faults.pending().size).toBe(0);
    expect(await storage.scans.get('r1')).toBeUndefined();
    // Scans counted after the failure join those put back; the first scan's time is kept.
    await scans.count('r1', at(2));
    expect(await scans.stats('r1')).toEqual({ count: 2, firstAt: at(1), suspicious: false });
    await scans.flush();
    expect(await storage.scans.get('r1')).toEqual({
      record_id: 'r1',
      count: 2,
      first_at: at(1),
      last_at: at(2),
    });
  });

  it('a flush that persisted but reported failure is counted again: write-behind counts are at least once', async () => {
    // The counter cannot tell this failure from the one above, so it keeps the counts rather than
    // lose them. Counts are a warning sign for consumers, not evidence (docs/guarantees.md).
    const { storage, scans } = await counter();
    await scans.count('r1', at(1));
    storage.faults.failNext('scans.add', 'after-persist');
    const write = vi.spyOn(storage.scans, 'add');
    await scans.flush();
    await expect(write.mock.results[0]!.value).rejects.toThrow(InjectedStorageFailure);
    expect(await storage.scans.get('r1')).toMatchObject({ count: 1 });
    await scans.flush();
    expect(await storage.scans.get('r1')).toMatchObject({ count: 2 });
  });
});
