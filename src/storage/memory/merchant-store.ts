/** MerchantStore over memory tables. See storage.ts for the contract of each method. */
import { DISPUTE_EVENT_TYPES } from '../../core/index.ts';
import type { ApiKeyRow, EvidenceRow, MerchantCreditRows, MerchantRow, StrikeRow } from '../rows.ts';
import type { MerchantStore } from '../storage.ts';
import { compareText, copyRow, withChange } from './copies.ts';
import { compositeKey } from './journal.ts';
import { assertUniqueKeys } from './unique.ts';
import type { MemoryTables } from './tables.ts';

export class MemoryMerchantStore implements MerchantStore {
  constructor(private readonly t: MemoryTables) {}

  async insert(merchant: MerchantRow): Promise<void> {
    assertUniqueKeys(this.t.merchants, [merchant.id], 'merchant id');
    const nameKeys = merchant.name_key === null ? [] : [merchant.name_key];
    assertUniqueKeys(this.t.merchantByNameKey, nameKeys, 'merchant name_key');
    this.t.merchants.set(merchant.id, copyRow(merchant));
    for (const key of nameKeys) this.t.merchantByNameKey.set(key, merchant.id);
  }

  async get(id: string): Promise<MerchantRow | undefined> {
    const row = this.t.merchants.get(id);
    return row && copyRow(row);
  }

  async byNameKey(nameKey: string): Promise<MerchantRow | undefined> {
    const id = this.t.merchantByNameKey.get(nameKey);
    const row = id === undefined ? undefined : this.t.merchants.get(id);
    return row && copyRow(row);
  }

  async setNameKey(id: string, nameKey: string): Promise<boolean> {
    const row = this.t.merchants.get(id);
    if (!row) return false;
    if (row.name_key === nameKey) return true;
    assertUniqueKeys(this.t.merchantByNameKey, [nameKey], 'merchant name_key');
    if (row.name_key !== null) this.t.merchantByNameKey.delete(row.name_key);
    this.t.merchantByNameKey.set(nameKey, id);
    this.t.merchants.set(id, { ...row, name_key: nameKey });
    return true;
  }

  async withoutNameKey(): Promise<MerchantRow[]> {
    return [...this.t.merchants.values()]
      .filter((m) => m.name_key === null)
      .sort((a, b) => compareText(a.created_at, b.created_at) || compareText(a.id, b.id))
      .map(copyRow);
  }

  async update(
    id: string,
    change: Partial<Pick<MerchantRow, 'status' | 'verified_at' | 'suspended_at'>>,
  ): Promise<boolean> {
    const row = this.t.merchants.get(id);
    if (!row) return false;
    const { status, verified_at, suspended_at } = change;
    this.t.merchants.set(id, withChange(row, { status, verified_at, suspended_at }));
    return true;
  }

  async evidence(merchantId: string): Promise<EvidenceRow[]> {
    return [...this.t.evidence.values()]
      .filter((e) => e.merchant_id === merchantId)
      .sort((a, b) => a.position - b.position)
      .map(copyRow);
  }

  async addEvidence(rows: readonly EvidenceRow[]): Promise<void> {
    const keys = rows.map((r) => compositeKey(r.merchant_id, r.position));
    assertUniqueKeys(this.t.evidence, keys, 'evidence (merchant_id, position)');
    rows.forEach((row, i) => this.t.evidence.set(keys[i]!, copyRow(row)));
  }

  async strikes(merchantId: string): Promise<StrikeRow[]> {
    return [...this.t.strikes.values()]
      .filter((s) => s.merchant_id === merchantId)
      .sort((a, b) => a.number - b.number)
      .map(copyRow);
  }

  async addStrike(row: StrikeRow): Promise<void> {
    const key = compositeKey(row.merchant_id, row.number);
    assertUniqueKeys(this.t.strikes, [key], 'strike (merchant_id, number)');
    this.t.strikes.set(key, copyRow(row));
  }

  async credit(merchantId: string): Promise<MerchantCreditRows> {
    const disputeTypes: readonly string[] = DISPUTE_EVENT_TYPES;
    const out: MerchantCreditRows = { issued: 0, revoked: 0, refunded: 0, disputes: [] };
    const mine = new Set<string>();
    for (const r of this.t.records.values()) {
      if (r.merchant_id !== merchantId) continue;
      mine.add(r.id);
      out.issued++;
      if (r.state === 'revoked') out.revoked++;
      if (r.state === 'refunded') out.refunded++;
    }
    for (const e of this.t.events.values()) {
      if (mine.has(e.record_id) && disputeTypes.includes(e.type)) {
        out.disputes.push({ record_id: e.record_id, seq: e.seq, type: e.type, content: e.content });
      }
    }
    return out;
  }

  async insertKey(row: ApiKeyRow): Promise<void> {
    assertUniqueKeys(this.t.apiKeys, [row.key_hash], 'API key hash');
    this.t.apiKeys.set(row.key_hash, copyRow(row));
  }

  async revokeKeys(merchantId: string, at: string): Promise<void> {
    for (const key of [...this.t.apiKeys.values()]) {
      if (key.merchant_id === merchantId && key.revoked_at === null) {
        this.t.apiKeys.set(key.key_hash, { ...key, revoked_at: at });
      }
    }
  }

  async byKeyHash(keyHash: string): Promise<{ merchant: MerchantRow; revokedAt: string | null } | undefined> {
    const key = this.t.apiKeys.get(keyHash);
    const merchant = key && this.t.merchants.get(key.merchant_id);
    if (!key || !merchant) return undefined;
    return { merchant: copyRow(merchant), revokedAt: key.revoked_at };
  }
}
