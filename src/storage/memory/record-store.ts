/** RecordStore over memory tables. See storage.ts for the contract of each method. */
import type { MerchantRow, RecordHead, RecordRow } from '../rows.ts';
import type { RecordStore } from '../storage.ts';
import { compareText, copyRow } from './copies.ts';
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
    const { head_seq, state, sold, activated, revealed, dispute } = head;
    this.t.records.set(id, { ...row, head_seq, state, sold, activated, revealed, dispute });
    return true;
  }

  async plainSalts(afterId: string, limit: number): Promise<Array<Pick<RecordRow, 'id' | 'secret_salt'>>> {
    return [...this.t.records.values()]
      .filter((r) => r.secret_salt?.startsWith('0x') && compareText(r.id, afterId) > 0)
      .sort((a, b) => compareText(a.id, b.id))
      .slice(0, limit)
      .map((r) => ({ id: r.id, secret_salt: r.secret_salt }));
  }

  async replaceSalt(id: string, expected: string, replacement: string): Promise<boolean> {
    const row = this.t.records.get(id);
    if (!row || row.secret_salt !== expected) return false;
    this.t.records.set(id, { ...row, secret_salt: replacement });
    return true;
  }
}
