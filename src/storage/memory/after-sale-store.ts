/** AfterSaleStore over memory tables. See storage.ts for the contract of each method. */
import type { DisputeFileRow, DisputeRow, DisputeStatus, SealedDeliveryRow } from '../rows.ts';
import type { AfterSaleStore } from '../storage.ts';
import { compareText, copyRow, withChange } from './copies.ts';
import { compositeKey } from './journal.ts';
import type { MemoryTables } from './tables.ts';
import { assertUniqueKeys } from './unique.ts';

type DisputeChange = Parameters<AfterSaleStore['updateDispute']>[2];

const byOpened = (a: DisputeRow, b: DisputeRow) =>
  compareText(a.opened_at, b.opened_at) || compareText(a.id, b.id);
const byDeadline = (a: DisputeRow, b: DisputeRow) =>
  compareText(a.deadline_at, b.deadline_at) || compareText(a.id, b.id);

export class MemoryAfterSaleStore implements AfterSaleStore {
  constructor(private readonly t: MemoryTables) {}

  async insertSealed(row: SealedDeliveryRow): Promise<void> {
    assertUniqueKeys(this.t.sealedDeliveries, [row.record_id], 'sealed delivery');
    assertUniqueKeys(this.t.sealedByToken, [row.token_hash], 'reveal token');
    this.t.sealedDeliveries.set(row.record_id, copyRow(row));
    this.t.sealedByToken.set(row.token_hash, row.record_id);
  }

  async sealedOf(recordId: string): Promise<SealedDeliveryRow | undefined> {
    const row = this.t.sealedDeliveries.get(recordId);
    return row && copyRow(row);
  }

  async sealedByToken(tokenHash: string): Promise<SealedDeliveryRow | undefined> {
    const recordId = this.t.sealedByToken.get(tokenHash);
    return recordId === undefined ? undefined : this.sealedOf(recordId);
  }

  async markRevealed(recordId: string, at: string): Promise<boolean> {
    const row = this.t.sealedDeliveries.get(recordId);
    if (!row || row.revealed_at !== null) return false;
    this.t.sealedDeliveries.set(recordId, { ...row, revealed_at: at });
    return true;
  }

  async purgeExpiredSecrets(now: string, limit: number): Promise<number> {
    const due = [...this.t.sealedDeliveries.values()]
      .filter((r) => r.sealed_secret !== null && r.expires_at <= now)
      .sort((a, b) => compareText(a.expires_at, b.expires_at))
      .slice(0, limit);
    for (const row of due) this.t.sealedDeliveries.set(row.record_id, { ...row, sealed_secret: null });
    return due.length;
  }

  async insertDispute(row: DisputeRow): Promise<void> {
    assertUniqueKeys(this.t.disputes, [row.id], 'dispute id');
    this.t.disputes.set(row.id, copyRow(row));
  }

  async dispute(id: string): Promise<DisputeRow | undefined> {
    const row = this.t.disputes.get(id);
    return row && copyRow(row);
  }

  async disputesOf(recordId: string): Promise<DisputeRow[]> {
    return this.select((d) => d.record_id === recordId, byOpened, Infinity);
  }

  async disputesWithStatus(statuses: readonly DisputeStatus[], limit: number): Promise<DisputeRow[]> {
    return this.select((d) => statuses.includes(d.status), byOpened, limit);
  }

  async openDueBy(by: string, limit: number): Promise<DisputeRow[]> {
    return this.select((d) => d.status === 'open' && d.deadline_at <= by, byDeadline, limit);
  }

  async unwarnedDueBy(by: string, limit: number): Promise<DisputeRow[]> {
    return this.select(
      (d) => d.status === 'open' && d.warned_at === null && d.deadline_at <= by,
      byDeadline,
      limit,
    );
  }

  async updateDispute(id: string, from: DisputeStatus, change: DisputeChange): Promise<boolean> {
    const row = this.t.disputes.get(id);
    if (!row || row.status !== from) return false;
    this.t.disputes.set(id, withChange(row, change as Partial<DisputeRow>));
    return true;
  }

  async insertFiles(rows: readonly DisputeFileRow[]): Promise<void> {
    const keys = rows.map((r) => compositeKey(r.dispute_id, r.position));
    assertUniqueKeys(this.t.disputeFiles, keys, 'dispute file');
    rows.forEach((r, i) => this.t.disputeFiles.set(keys[i]!, { ...r, bytes: new Uint8Array(r.bytes) }));
  }

  async filesOf(disputeId: string): Promise<Array<Omit<DisputeFileRow, 'bytes'>>> {
    return [...this.t.disputeFiles.values()]
      .filter((f) => f.dispute_id === disputeId)
      .sort((a, b) => a.position - b.position)
      .map(({ bytes: _bytes, ...rest }) => rest);
  }

  async file(disputeId: string, position: number): Promise<DisputeFileRow | undefined> {
    const row = this.t.disputeFiles.get(compositeKey(disputeId, position));
    return row && { ...row, bytes: new Uint8Array(row.bytes) };
  }

  private select(
    keep: (d: DisputeRow) => boolean,
    order: (a: DisputeRow, b: DisputeRow) => number,
    limit: number,
  ): DisputeRow[] {
    return [...this.t.disputes.values()].filter(keep).sort(order).slice(0, limit).map(copyRow);
  }
}
