/** RecordStore over memory tables. See storage.ts for the contract of each method. */
import type { MerchantRow, RecordHead, RecordRow } from '../rows.ts';
import type { RecordStore } from '../storage.ts';
import { copyRow } from './copies.ts';
import { compositeKey } from './journal.ts';
import type { MemoryTables } from './tables.ts';
import { assertUniqueKeys } from './unique.ts';

export class MemoryRecordStore implements RecordStore {
  constructor(private readonly t: MemoryTables) {}

  async insertMany(rows: readonly RecordRow[]): Promise<void> {
    const externalKeys = rows.map((r) => compositeKey(r.merchant_id, r.external_id));
    assertUniqueKeys(
      this.t.records,
      rows.map((r) => r.id),
      'record id',
    );
    assertUniqueKeys(this.t.recordByExternalId, externalKeys, 'record (merchant_id, external_id)');
    rows.forEach((row, i) => {
      this.t.records.set(row.id, copyRow(row));
      this.t.recordByExternalId.set(externalKeys[i]!, row.id);
    });
  }

  async get(id: string): Promise<RecordRow | undefined> {
    const row = this.t.records.get(id);
    return row && copyRow(row);
  }

  async getWithMerchant(id: string): Promise<{ record: RecordRow; merchant: MerchantRow } | undefined> {
    const record = this.t.records.get(id);
    const merchant = record && this.t.merchants.get(record.merchant_id);
    if (!record || !merchant) return undefined;
    return { record: copyRow(record), merchant: copyRow(merchant) };
  }

  async byExternalIds(merchantId: string, externalIds: readonly string[]): Promise<RecordRow[]> {
    const out: RecordRow[] = [];
    for (const externalId of new Set(externalIds)) {
      const id = this.t.recordByExternalId.get(compositeKey(merchantId, externalId));
      if (id !== undefined) out.push(copyRow(this.t.records.get(id)!));
    }
    return out;
  }

  async advanceHead(id: string, expectedHeadSeq: number, head: RecordHead): Promise<boolean> {
    const row = this.t.records.get(id);
    if (!row || row.head_seq !== expectedHeadSeq) return false;
    const { head_seq, state, sold, activated } = head;
    this.t.records.set(id, { ...row, head_seq, state, sold, activated });
    return true;
  }
}
