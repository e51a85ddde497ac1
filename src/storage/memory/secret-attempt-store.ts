/** SecretAttemptStore over memory tables. See storage.ts for the contract of each method. */
import type { SecretAttemptRow } from '../rows.ts';
import type { SecretAttemptStore } from '../storage.ts';
import { copyRow } from './copies.ts';
import type { MemoryTables } from './tables.ts';

export class MemorySecretAttemptStore implements SecretAttemptStore {
  constructor(private readonly t: MemoryTables) {}

  async get(recordId: string): Promise<SecretAttemptRow | undefined> {
    const row = this.t.secretAttempts.get(recordId);
    return row && copyRow(row);
  }

  /** As the SQL upsert: a new or ended window starts at `now`; a running one takes a try below `limit`. */
  async take(
    recordIds: readonly string[],
    now: string,
    windowStartedBy: string,
    limit: number,
  ): Promise<Map<string, SecretAttemptRow | null>> {
    const out = new Map<string, SecretAttemptRow | null>();
    for (const recordId of recordIds) {
      const row = this.t.secretAttempts.get(recordId);
      let next: SecretAttemptRow | null;
      if (!row || row.window_start <= windowStartedBy) {
        next = { record_id: recordId, window_start: now, failures: 1 };
      } else {
        next = row.failures < limit ? { ...row, failures: row.failures + 1 } : null;
      }
      if (next) this.t.secretAttempts.set(recordId, next);
      out.set(recordId, next && copyRow(next));
    }
    return out;
  }

  /** As the SQL decrement: a row left with no try taken is removed. */
  async giveBack(
    entries: ReadonlyArray<Pick<SecretAttemptRow, 'record_id' | 'window_start'>>,
  ): Promise<void> {
    for (const { record_id, window_start } of entries) {
      const row = this.t.secretAttempts.get(record_id);
      if (!row || row.window_start !== window_start || row.failures === 0) continue;
      if (row.failures === 1) this.t.secretAttempts.delete(record_id);
      else this.t.secretAttempts.set(record_id, { ...row, failures: row.failures - 1 });
    }
  }
}
