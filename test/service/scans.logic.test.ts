/**
 * The scan counter on the memory store, with injected storage failures: repeats cost no write, a
 * failed write keeps its sightings for the next flush, and a new window counts a scanner again while
 * the last window's sightings are pruned.
 */
import { describe, expect, it } from 'vitest';
import { DAY_MS, ScanCounter } from '../../src/service/scans.ts';
import { ServerKey } from '../../src/service/server-key.ts';
import { MemoryStorage } from '../../src/storage/memory/memory-storage.ts';
import { seedRecords } from '../storage/fixtures.ts';

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

describe('ScanCounter', () => {
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
