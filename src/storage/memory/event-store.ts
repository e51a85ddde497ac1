/** EventStore over memory tables. See storage.ts for the contract of each method. */
import { hexToBytes, NODE_SIZE } from '../../core/index.ts';
import type { BatchEventRow, BatchStatus, EventRow, EventWithBatch, LeaseFence } from '../rows.ts';
import type { EventStore } from '../storage.ts';
import { compareText, copyRow } from './copies.ts';
import { compositeKey } from './journal.ts';
import { holdsLease } from './lease-store.ts';
import type { MemoryTables } from './tables.ts';
import { assertUniqueKeys } from './unique.ts';

export class MemoryEventStore implements EventStore {
  constructor(private readonly t: MemoryTables) {}

  async insertMany(rows: readonly EventRow[]): Promise<void> {
    const keys = rows.map((r) => compositeKey(r.record_id, r.seq));
    assertUniqueKeys(this.t.events, keys, 'event (record_id, seq)');
    const slots = rows.flatMap((r, i) => (isSlotted(r) ? [[slotKey(r), keys[i]!] as const] : []));
    assertUniqueKeys(
      this.t.leafSlots,
      slots.map(([slot]) => slot),
      'event (batch_id, leaf_index)',
    );
    rows.forEach((row, i) => {
      const stored = copyRow(row);
      this.t.events.set(keys[i]!, stored);
      if (stored.batch_id === null) this.t.unbatched.set(keys[i]!, stored);
      const seqs = this.t.eventSeqs.get(row.record_id) ?? [];
      this.t.eventSeqs.set(
        row.record_id,
        [...seqs, row.seq].sort((a, b) => a - b),
      );
    });
    for (const [slot, key] of slots) this.t.leafSlots.set(slot, key);
  }

  async leafAt(recordId: string, seq: number): Promise<string | undefined> {
    return this.t.events.get(compositeKey(recordId, seq))?.leaf;
  }

  async replaceContent(recordId: string, seq: number, content: string): Promise<boolean> {
    const key = compositeKey(recordId, seq);
    const event = this.t.events.get(key);
    if (!event) return false;
    const changed = { ...event, content };
    this.t.events.set(key, changed);
    if (this.t.unbatched.has(key)) this.t.unbatched.set(key, changed);
    return true;
  }

  async ofRecord(recordId: string): Promise<EventWithBatch[]> {
    const seqs = this.t.eventSeqs.get(recordId) ?? [];
    return seqs.map((seq) => withBatch(this.t, this.t.events.get(compositeKey(recordId, seq))!));
  }

  async ofRecordRange(recordId: string, fromSeq: number, toSeq: number): Promise<EventWithBatch[]> {
    const seqs = this.t.eventSeqs.get(recordId) ?? [];
    return seqs
      .filter((seq) => seq >= fromSeq && seq <= toSeq)
      .map((seq) => withBatch(this.t, this.t.events.get(compositeKey(recordId, seq))!));
  }

  async issuanceStatuses(recordIds: readonly string[]): Promise<Map<string, BatchStatus | null>> {
    const out = new Map<string, BatchStatus | null>();
    for (const recordId of recordIds) {
      const issuance = this.t.events.get(compositeKey(recordId, 0));
      if (!issuance) continue;
      const batch = issuance.batch_id === null ? undefined : this.t.batches.get(String(issuance.batch_id));
      out.set(recordId, batch?.status ?? null);
    }
    return out;
  }

  async unbatched(countUpTo: number): Promise<{ count: number; oldestAt: string | null }> {
    let oldestAt: string | null = null;
    for (const event of this.t.unbatched.values()) {
      if (oldestAt === null || compareText(event.created_at, oldestAt) < 0) oldestAt = event.created_at;
    }
    return { count: Math.max(0, Math.min(this.t.unbatched.size, countUpTo)), oldestAt };
  }

  async countAwaitingFinal(): Promise<number> {
    let count = this.t.unbatched.size;
    for (const batch of this.t.batches.values()) if (batch.status !== 'final') count += batch.leaf_count;
    for (const seal of this.t.seals.values()) count += seal.leaf_count;
    return count;
  }

  async awaitingFinalByMerchant(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    const add = (event: EventRow) => {
      const merchantId = this.t.records.get(event.record_id)!.merchant_id;
      counts.set(merchantId, (counts.get(merchantId) ?? 0) + 1);
    };
    for (const event of this.t.unbatched.values()) add(event);
    const unfinished = new Set<number>();
    for (const batch of this.t.batches.values()) if (batch.status !== 'final') unfinished.add(batch.id);
    for (const key of this.t.leafSlots.values()) {
      const event = this.t.events.get(key)!;
      if (unfinished.has(event.batch_id!)) add(event);
    }
    return counts;
  }

  async assignOldestUnbatched(batchId: number, maxLeaves: number): Promise<Uint8Array> {
    return this.assignOldest(batchId, maxLeaves, 0, null);
  }

  async assignToSeal(
    batchId: number,
    maxLeaves: number,
    createdUpTo: string,
    fence: LeaseFence,
  ): Promise<Uint8Array | null> {
    const seal = this.t.seals.get(String(batchId));
    if (!seal || !holdsLease(this.t, fence)) return null;
    const leaves = await this.assignOldest(batchId, maxLeaves, seal.leaf_count, createdUpTo);
    this.t.seals.set(String(batchId), { ...seal, leaf_count: seal.leaf_count + leaves.length / NODE_SIZE });
    return leaves;
  }

  async batchLeaves(batchId: number, from: number, count: number): Promise<Uint8Array> {
    const leaves: string[] = [];
    for (let index = from; index < from + count; index++) {
      const key = this.t.leafSlots.get(compositeKey(batchId, index));
      if (key === undefined) break;
      leaves.push(this.t.events.get(key)!.leaf);
    }
    const packed = new Uint8Array(leaves.length * NODE_SIZE);
    leaves.forEach((leaf, i) => packed.set(hexToBytes(leaf), i * NODE_SIZE));
    return packed;
  }

  async createdAtOfLeaves(batchId: number, indexes: readonly number[]): Promise<(string | undefined)[]> {
    return indexes.map((index) => {
      const key = this.t.leafSlots.get(compositeKey(batchId, index));
      return key === undefined ? undefined : this.t.events.get(key)!.created_at;
    });
  }

  /**
   * The oldest unbatched events (created at or before `upTo`, when given), at most `maxLeaves`, into
   * batch `batchId` from leaf index `first`.
   */
  private async assignOldest(
    batchId: number,
    maxLeaves: number,
    first: number,
    upTo: string | null,
  ): Promise<Uint8Array> {
    const oldest = [...this.t.unbatched.values()]
      .filter((event) => upTo === null || compareText(event.created_at, upTo) <= 0)
      .sort(queueOrder)
      .slice(0, Math.max(0, maxLeaves));
    const placed = oldest.map((event, i) => ({ ...event, batch_id: batchId, leaf_index: first + i }));
    // SQL's unique (batch_id, leaf_index): a batch id that already holds leaves takes no more.
    assertUniqueKeys(this.t.leafSlots, placed.map(slotKey), 'event (batch_id, leaf_index)');
    const packed = new Uint8Array(placed.length * NODE_SIZE);
    placed.forEach((event, i) => {
      const key = compositeKey(event.record_id, event.seq);
      this.t.events.set(key, event);
      this.t.unbatched.delete(key);
      this.t.leafSlots.set(slotKey(event), key);
      packed.set(hexToBytes(event.leaf), i * NODE_SIZE);
    });
    return packed;
  }

  async ofBatch(batchId: number, fromLeaf = 0, limit = Infinity): Promise<BatchEventRow[]> {
    const placed: EventRow[] = [];
    for (const key of this.t.leafSlots.values()) {
      const event = this.t.events.get(key)!;
      if (event.batch_id === batchId && event.leaf_index! >= fromLeaf) placed.push(event);
    }
    return placed
      .sort((a, b) => a.leaf_index! - b.leaf_index!)
      .slice(0, Math.max(0, limit))
      .map(({ record_id, seq, type, leaf }) => ({ record_id, seq, type, leaf }));
  }
}

/** An event with the state of the batch holding it (every batch field null while unbatched). */
function withBatch(t: MemoryTables, event: EventRow): EventWithBatch {
  const batch = event.batch_id === null ? undefined : t.batches.get(String(event.batch_id));
  return {
    ...event,
    batch_status: batch?.status ?? null,
    tx_hash: batch?.tx_hash ?? null,
    block_number: batch?.block_number ?? null,
    root: batch?.root ?? null,
    batch_leaf_count: batch?.leaf_count ?? null,
    chain_root: batch?.chain_root ?? null,
  };
}

/** The order events wait in to be sealed: oldest first, ties by record id, then seq. */
function queueOrder(a: EventRow, b: EventRow): number {
  return compareText(a.created_at, b.created_at) || compareText(a.record_id, b.record_id) || a.seq - b.seq;
}

function isSlotted(event: EventRow): boolean {
  return event.batch_id !== null && event.leaf_index !== null;
}

function slotKey(event: EventRow): string {
  return compositeKey(event.batch_id!, event.leaf_index!);
}
