/** ScanStore: scan counts per record, each scanner counted once per window, and the sightings behind them. */
import { expect, it } from 'vitest';
import type { Storage } from '../../../src/storage/storage.ts';
import { at, seedRecords, sighting } from '../fixtures.ts';

export function scanBehaviour(storage: () => Storage): void {
  it('counts each scanner once per record and window, however often it is given', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1', 'r2']);
    expect(await s.scans.get('r1')).toBeUndefined();
    expect(
      await s.scans.addSightings([
        sighting('r1', 7, 'a', 2),
        sighting('r1', 7, 'b', 1),
        sighting('r1', 7, 'a', 3), // the same scanner again in the same call
        sighting('r2', 7, 'a', 5),
      ]),
    ).toBe(3);
    // A new row starts at the earliest sighting and ends at the latest.
    expect(await s.scans.get('r1')).toEqual({ record_id: 'r1', count: 2, first_at: at(1), last_at: at(2) });
    expect(await s.scans.get('r2')).toEqual({ record_id: 'r2', count: 1, first_at: at(5), last_at: at(5) });

    // Seen before in this window: nothing changes. A new window, or a new scanner, counts.
    expect(await s.scans.addSightings([sighting('r1', 7, 'a', 10), sighting('r1', 7, 'b', 11)])).toBe(0);
    expect(await s.scans.get('r1')).toEqual({ record_id: 'r1', count: 2, first_at: at(1), last_at: at(2) });
    expect(await s.scans.addSightings([sighting('r1', 8, 'a', 20), sighting('r1', 7, 'c', 12)])).toBe(2);
    expect(await s.scans.get('r1')).toEqual({ record_id: 'r1', count: 4, first_at: at(1), last_at: at(20) });
    // last_at never moves back, whatever the order the sightings come in.
    expect(await s.scans.addSightings([sighting('r1', 7, 'd', 15)])).toBe(1);
    expect(await s.scans.get('r1')).toEqual({ record_id: 'r1', count: 5, first_at: at(1), last_at: at(20) });
    expect(await s.scans.addSightings([])).toBe(0);
  });

  it('two writers adding the same sighting at once count it once', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1']);
    const added = await Promise.all(
      Array.from({ length: 4 }, () =>
        s.scans.addSightings([sighting('r1', 1, 'a', 1), sighting('r1', 1, 'b', 1)]),
      ),
    );
    expect(added.reduce((sum, n) => sum + n, 0)).toBe(2);
    expect((await s.scans.get('r1'))?.count).toBe(2);
  });

  it('prunes at most `limit` sightings of older windows and keeps the counts', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1', 'r2']);
    await s.scans.addSightings([
      sighting('r1', 1, 'a', 1),
      sighting('r1', 1, 'b', 1),
      sighting('r2', 1, 'a', 1),
      sighting('r1', 2, 'a', 2),
      sighting('r1', 3, 'a', 3),
    ]);
    expect(await s.scans.pruneSightings(3, 2)).toBe(2);
    expect(await s.scans.pruneSightings(3, 10)).toBe(2);
    expect(await s.scans.pruneSightings(3, 10)).toBe(0);
    expect((await s.scans.get('r1'))?.count).toBe(4);
    expect((await s.scans.get('r2'))?.count).toBe(1);
    // What was pruned is new again; window 3 was kept, so it is not.
    expect(await s.scans.addSightings([sighting('r1', 1, 'a', 30), sighting('r1', 3, 'a', 30)])).toBe(1);
    expect((await s.scans.get('r1'))?.count).toBe(5);
  });
}
