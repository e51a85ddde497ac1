/** ScanStore over memory tables. See storage.ts for the contract of each method. */
import type { ScanIncrement, ScanRow } from '../rows.ts';
import type { ScanStore } from '../storage.ts';
import { copyRow } from './copies.ts';
import type { MemoryTables } from './tables.ts';

export class MemoryScanStore implements ScanStore {
  constructor(private readonly t: MemoryTables) {}

  async get(recordId: string): Promise<ScanRow | undefined> {
    const row = this.t.scans.get(recordId);
    return row && copyRow(row);
  }

  /** As the SQL upsert: a new row takes the increment; an existing one adds its count and last_at. */
  async add(increments: readonly ScanIncrement[]): Promise<void> {
    for (const inc of increments) {
      const row = this.t.scans.get(inc.record_id);
      this.t.scans.set(
        inc.record_id,
        row ? { ...row, count: row.count + inc.count, last_at: inc.last_at } : copyRow(inc),
      );
    }
  }
}
