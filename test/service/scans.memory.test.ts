/**
 * Scan counts written behind (src/service/scans.ts) on the memory store: totals include what waits
 * in memory, a flush is one write, a read during a flush counts every scan once, and a failed flush
 * puts its sightings back for the next one; scans are distinct networks (issue 13).
 */
import { describe, expect, it, vi } from 'vitest';
import type { ScanRequest } from '../../src/service/scanners.ts';
import { DAY_MS, ScanCounter, SUSPICIOUS_SCANS } from '../../src/service/scans.ts';
import { ServerKey } from '../../src/service/server-key.ts';
import { InjectedStorageFailure } from '../../src/storage/memory/faults.ts';
import { MemoryStorage } from '../../src/storage/memory/memory-storage.ts';
import { merchantRow, recordRow } from '../storage/fixtures.ts';
import { seedRecords } from '../storage/fixtures.ts';

/** Seconds after a fixed instant, as ISO text. */
const at = (s: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, s)).toISOString();

/** A GET from network n (10.0.n.0/24): each counts once per record and window. */
const network = (n: number): ScanRequest => ({ method: 'GET', ip: `10.0.${n}.1`, headers: {} });

/**
 * A counter over a memory store holding records r1 and r2. Flushes happen only when the test calls
 * flush() (the timer is an hour); each test ends with a successful flush, which clears the timer.
 */
async function counter() {
  const storage = new MemoryStorage();
  await storage.merchants.insert(merchantRow('m1'));
  await storage.records.insertMany([recordRow('r1', 'm1'), recordRow('r2', 'm1')]);
  return {
    storage,
    scans: new ScanCounter(storage.scans, {
      keys: ServerKey.generate(),
      windowMs: 30 * DAY_MS,
      flushMs: 3_600_000,
    }),
  };
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
    expect(await scans.count('r1', network(1), at(1))).toEqual({
      count: 1,
      firstAt: at(1),
      suspicious: false,
    });
    for (let i = 2; i <= SUSPICIOUS_SCANS; i++) await scans.count('r1', network(i), at(i));
    expect(await scans.stats('r1')).toMatchObject({ count: SUSPICIOUS_SCANS, suspicious: false });
    expect(await scans.count('r1', network(59), at(59))).toEqual({
      count: SUSPICIOUS_SCANS + 1,
      firstAt: at(1),
      suspicious: true,
    });
    await scans.flush();
  });

  it('a flush stores every waiting count in one write; totals stay the same across it', async () => {
    const { storage, scans } = await counter();
    const add = vi.spyOn(storage.scans, 'addSightings');
    await scans.flush();
    expect(add).not.toHaveBeenCalled();
    await scans.count('r1', network(1), at(1));
    await scans.count('r1', network(2), at(2));
    await scans.count('r2', network(3), at(3));
    await scans.flush();
    expect(add).toHaveBeenCalledTimes(1);
    // One sighting per (record, window, network), never an address: the scanner is a keyed hash.
    const sightings = add.mock.calls[0]![0];
    expect(sightings.map((x) => [x.record_id, x.seen_at])).toEqual([
      ['r1', at(1)],
      ['r1', at(2)],
      ['r2', at(3)],
    ]);
    expect(JSON.stringify(sightings)).not.toMatch(/10\.0\./);
    expect(await storage.scans.get('r1')).toEqual({
      record_id: 'r1',
      count: 2,
      first_at: at(1),
      last_at: at(2),
    });
    await scans.count('r1', network(4), at(4));
    expect(await scans.stats('r1')).toEqual({ count: 3, firstAt: at(1), suspicious: false });
    await scans.flush();
    expect(await storage.scans.get('r1')).toMatchObject({ count: 3, first_at: at(1), last_at: at(4) });
  });

  it('a read while a flush is in flight counts every scan once, also those counted meanwhile', async () => {
    const { storage, scans } = await counter();
    await scans.count('r1', network(1), at(1));
    await scans.count('r1', network(2), at(2));
    // Hold the store, so the flush's write waits with its counts out of memory and not yet stored.
    const held = gate();
    const holding = storage.transaction(() => held.opened);
    const flushing = scans.flush();
    const during = scans.stats('r1');
    // Counted at once; its totals, like the read's, wait for the flush.
    const counted = scans.count('r1', network(3), at(3));
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
    await scans.count('r1', network(1), at(1));
    storage.faults.failNext('scans.addSightings', 'before-persist');
    await scans.flush();
    expect(storage.faults.pending().size).toBe(0);
    expect(await storage.scans.get('r1')).toBeUndefined();
    // Scans counted after the failure join those put back; the first scan's time is kept.
    await scans.count('r1', network(2), at(2));
    expect(await scans.stats('r1')).toEqual({ count: 2, firstAt: at(1), suspicious: false });
    await scans.flush();
    expect(await storage.scans.get('r1')).toEqual({
      record_id: 'r1',
      count: 2,
      first_at: at(1),
      last_at: at(2),
    });
  });

  it('a flush that persisted but reported failure is not counted twice: sightings are kept once', async () => {
    // The counter cannot tell this failure from the one above, so it puts the sightings back; the
    // store keeps each (record, window, scanner) once (issue 13), so the retry adds nothing.
    const { storage, scans } = await counter();
    await scans.count('r1', network(1), at(1));
    storage.faults.failNext('scans.addSightings', 'after-persist');
    const write = vi.spyOn(storage.scans, 'addSightings');
    await scans.flush();
    await expect(write.mock.results[0]!.value).rejects.toThrow(InjectedStorageFailure);
    expect(await storage.scans.get('r1')).toMatchObject({ count: 1 });
    await scans.flush();
    expect(await storage.scans.get('r1')).toMatchObject({ count: 1 });
  });
});

const get = (ip: string) => ({ method: 'GET', ip, headers: {} });
/** Day `n` of a 30-day window (windows start at the Unix epoch; 21,000 days in is late 2027). */
const day = (n: number) => new Date((21_000 + n) * DAY_MS).toISOString();

async function setup() {
  const storage = new MemoryStorage();
  await seedRecords(storage, 'm1', ['r1', 'r2']);
  const counter = new ScanCounter(storage.scans, {
    keys: ServerKey.generate(),
    windowMs: 30 * DAY_MS,
    flushMs: 60_000,
  });
  return { storage, counter };
}

describe('scanners on the memory store', () => {
  it('writes a scanner once: repeats from its network are a lookup, not a write', async () => {
    const { storage, counter } = await setup();
    for (let i = 0; i < 300; i++) await counter.count('r1', get(`203.0.113.${i % 250}`), day(0));
    expect(counter.tally).toMatchObject({ counted: 1, repeated: 299 });
    expect((await counter.stats('r1')).count).toBe(1);
    await counter.flush();
    expect(await storage.scans.get('r1')).toMatchObject({ count: 1, first_at: day(0) });
  });

  it('does not count HEAD, prefetches or link previews, and tallies why', async () => {
    const { counter } = await setup();
    await counter.count('r1', { ...get('203.0.113.1'), method: 'HEAD' }, day(0));
    await counter.count('r1', { ...get('203.0.113.2'), headers: { purpose: 'prefetch' } }, day(0));
    await counter.count(
      'r1',
      { ...get('203.0.113.3'), headers: { 'user-agent': 'TelegramBot (like TwitterBot)' } },
      day(0),
    );
    expect((await counter.stats('r1')).count).toBe(0);
    expect(counter.tally.notCounted).toEqual({ head: 1, prefetch: 1, link_preview: 1 });
  });

  it('counts a scanner again in a new window, and forgets the old window once past it', async () => {
    const { storage, counter } = await setup();
    await counter.count('r1', get('203.0.113.1'), day(0));
    await counter.count('r2', get('203.0.113.1'), day(1));
    await counter.flush();
    await counter.count('r1', get('203.0.113.1'), day(29));
    expect((await counter.stats('r1')).count).toBe(1);
    await counter.count('r1', get('203.0.113.1'), day(30));
    expect((await counter.stats('r1')).count).toBe(2);
    await counter.flush();
    // The prune runs beside the flush: the old window's two sightings go, the counts stay.
    await new Promise((r) => setTimeout(r, 10));
    expect(await storage.scans.pruneSightings(Number.MAX_SAFE_INTEGER, 100)).toBe(1);
    expect((await storage.scans.get('r1'))?.count).toBe(2);
    expect((await storage.scans.get('r2'))?.count).toBe(1);
  });

  it('a failed write is retried whole at the next flush', async () => {
    const { storage, counter } = await setup();
    await counter.count('r1', get('198.51.100.1'), day(0));
    await counter.count('r1', get('198.51.101.1'), day(0));
    storage.faults.failNext('scans.addSightings', 'before-persist');
    await counter.flush();
    expect(storage.faults.pending().size).toBe(0);
    expect(await storage.scans.get('r1')).toBeUndefined();
    expect((await counter.stats('r1')).count).toBe(2);
    await counter.flush();
    expect((await storage.scans.get('r1'))?.count).toBe(2);
  });
});
