/** ScanStore: scan counts per record, added to in one write. */
import { expect, it } from 'vitest';
import type { Storage } from '../../../src/storage/storage.ts';
import { at, seedRecords } from '../fixtures.ts';

export function scanBehaviour(storage: () => Storage): void {
  it('creates a row from the first increment and adds later ones to it', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1', 'r2']);
    expect(await s.scans.get('r1')).toBeUndefined();
    await s.scans.add([
      { record_id: 'r1', count: 3, first_at: at(1), last_at: at(2) },
      { record_id: 'r2', count: 1, first_at: at(5), last_at: at(5) },
    ]);
    expect(await s.scans.get('r1')).toEqual({ record_id: 'r1', count: 3, first_at: at(1), last_at: at(2) });
    await s.scans.add([{ record_id: 'r1', count: 4, first_at: at(10), last_at: at(11) }]);
    // The first scan stays first; the count and the last scan move on.
    expect(await s.scans.get('r1')).toEqual({ record_id: 'r1', count: 7, first_at: at(1), last_at: at(11) });
    expect(await s.scans.get('r2')).toEqual({ record_id: 'r2', count: 1, first_at: at(5), last_at: at(5) });
    await s.scans.add([]);
    expect((await s.scans.get('r1'))?.count).toBe(7);
  });
}
