/** UniqueKeyStore over memory tables. See storage.ts for the contract of each method. */
import { DuplicateKeyError } from '../errors.ts';
import type { DuplicateRefusalRow, UniqueKeyRow } from '../rows.ts';
import type { UniqueKeyStore } from '../storage.ts';
import { compareText, copyRow } from './copies.ts';
import { compositeKey } from './journal.ts';
import type { MemoryTables } from './tables.ts';
import { assertUniqueKeys } from './unique.ts';

export class MemoryUniqueKeyStore implements UniqueKeyStore {
  constructor(private readonly t: MemoryTables) {}

  /** As SQL's primary key and partial unique index over live rows. */
  async insertMany(rows: readonly UniqueKeyRow[]): Promise<void> {
    const primary = rows.map((r) => compositeKey(r.key, r.record_id));
    assertUniqueKeys(this.t.uniqueKeys, primary, 'unique key (key, record_id)');
    const live = new Set<string>();
    for (const row of rows.filter((r) => r.ended === 0)) {
      if (this.t.liveUniqueKeys.has(row.key) || live.has(row.key)) {
        throw new DuplicateKeyError(`duplicate live unique key: ${row.key}`);
      }
      live.add(row.key);
    }
    rows.forEach((row, i) => {
      this.t.uniqueKeys.set(primary[i]!, copyRow(row));
      if (row.ended === 0) this.t.liveUniqueKeys.set(row.key, primary[i]!);
      const ofRecord = this.t.uniqueKeysOfRecord.get(row.record_id) ?? [];
      this.t.uniqueKeysOfRecord.set(row.record_id, [...ofRecord, primary[i]!]);
      const byKey = this.t.uniqueKeysByKey.get(row.key) ?? [];
      this.t.uniqueKeysByKey.set(row.key, [...byKey, primary[i]!]);
    });
  }

  async holders(keys: readonly string[]): Promise<UniqueKeyRow[]> {
    return [...new Set(keys)].flatMap((key) =>
      (this.t.uniqueKeysByKey.get(key) ?? []).map((k) => copyRow(this.t.uniqueKeys.get(k)!)),
    );
  }

  async ofRecord(recordId: string): Promise<UniqueKeyRow[]> {
    return (this.t.uniqueKeysOfRecord.get(recordId) ?? []).map((k) => copyRow(this.t.uniqueKeys.get(k)!));
  }

  async endRecord(recordId: string): Promise<void> {
    for (const primary of this.t.uniqueKeysOfRecord.get(recordId) ?? []) {
      const row = this.t.uniqueKeys.get(primary)!;
      if (row.ended === 1) continue;
      this.t.uniqueKeys.set(primary, { ...row, ended: 1 });
      this.t.liveUniqueKeys.delete(row.key);
    }
  }

  async logRefusals(rows: readonly DuplicateRefusalRow[]): Promise<void> {
    assertUniqueKeys(
      this.t.duplicateRefusals,
      rows.map((r) => r.id),
      'duplicate refusal id',
    );
    for (const row of rows) this.t.duplicateRefusals.set(row.id, copyRow(row));
  }

  async refusals(merchantId: string | null, limit: number): Promise<DuplicateRefusalRow[]> {
    return [...this.t.duplicateRefusals.values()]
      .filter((r) => merchantId === null || r.merchant_id === merchantId)
      .sort((a, b) => compareText(b.at, a.at) || compareText(b.id, a.id))
      .slice(0, limit)
      .map((r) => copyRow(r));
  }
}
