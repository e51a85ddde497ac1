/** ScanStore over memory tables. See storage.ts for the contract of each method. */
import type { ScanRow, ScanSighting } from '../rows.ts';
import type { ScanStore } from '../storage.ts';
import { copyRow } from './copies.ts';
import { compositeKey } from './journal.ts';
import type { MemoryTables } from './tables.ts';

export class MemoryScanStore implements ScanStore {
  constructor(private readonly t: MemoryTables) {}

  async get(recordId: string): Promise<ScanRow | undefined> {
    const row = this.t.scans.get(recordId);
    return row && copyRow(row);
  }

  /** As the SQL insert-or-skip, then one upsert per record that gained. */
  async addSightings(sightings: readonly ScanSighting[]): Promise<number> {
    const growth = new Map<string, { count: number; firstAt: string; lastAt: string }>();
    for (const sighting of sightings) {
      const key = compositeKey(sighting.record_id, sighting.window_index, sighting.scanner);
      if (this.t.scanSightings.has(key)) continue;
      this.t.scanSightings.set(key, copyRow(sighting));
      const seen = sighting.seen_at;
      const g = growth.get(sighting.record_id);
      if (!g) growth.set(sighting.record_id, { count: 1, firstAt: seen, lastAt: seen });
      else
        growth.set(sighting.record_id, {
          count: g.count + 1,
          firstAt: min(g.firstAt, seen),
          lastAt: max(g.lastAt, seen),
        });
    }
    let added = 0;
    for (const [recordId, g] of growth) {
      added += g.count;
      const row = this.t.scans.get(recordId);
      this.t.scans.set(
        recordId,
        row
          ? { ...row, count: row.count + g.count, last_at: max(row.last_at, g.lastAt) }
          : { record_id: recordId, count: g.count, first_at: g.firstAt, last_at: g.lastAt },
      );
    }
    return added;
  }

  async pruneSightings(beforeWindow: number, limit: number): Promise<number> {
    const old: string[] = [];
    for (const s of this.t.scanSightings.values()) {
      if (old.length >= limit) break;
      if (s.window_index < beforeWindow) old.push(compositeKey(s.record_id, s.window_index, s.scanner));
    }
    for (const key of old) this.t.scanSightings.delete(key);
    return old.length;
  }
}

const min = (a: string, b: string) => (b < a ? b : a);
const max = (a: string, b: string) => (b > a ? b : a);
