/** BatchStore over memory tables. See storage.ts for the contract of each method. */
import { NODE_SIZE, type NodePosition } from '../../core/index.ts';
import type { BatchChange, BatchRow, BatchStatus, LeaseFence, SealedTree } from '../rows.ts';
import type { BatchStore } from '../storage.ts';
import { copyRow, withChange } from './copies.ts';
import { fences } from './lease-store.ts';
import type { MemoryTables } from './tables.ts';
import { assertUniqueKeys } from './unique.ts';

export class MemoryBatchStore implements BatchStore {
  constructor(private readonly t: MemoryTables) {}

  async nextId(): Promise<number> {
    let max = 0;
    for (const batch of this.t.batches.values()) max = Math.max(max, batch.id);
    return max + 1;
  }

  async insertSealed(batch: BatchRow, tree: SealedTree): Promise<void> {
    assertUniqueKeys(this.t.batches, [String(batch.id)], 'batch id');
    this.t.batches.set(String(batch.id), { ...batch, status: 'sealed' });
    this.t.trees.set(
      String(batch.id),
      tree.levels.map((level) => level.slice()),
    );
  }

  async get(id: number): Promise<BatchRow | undefined> {
    const row = this.t.batches.get(String(id));
    return row && copyRow(row);
  }

  async list(after: number, limit: number): Promise<BatchRow[]> {
    return sortedBatches(this.t, (b) => b.id > after).slice(0, Math.max(0, limit));
  }

  async unfinished(): Promise<BatchRow[]> {
    return sortedBatches(this.t, (b) => b.status !== 'final');
  }

  async newestFinal(limit: number): Promise<BatchRow[]> {
    return sortedBatches(this.t, (b) => b.status === 'final')
      .reverse()
      .slice(0, Math.max(0, limit));
  }

  async withStatus(statuses: readonly BatchStatus[]): Promise<BatchRow[]> {
    return sortedBatches(this.t, (b) => statuses.includes(b.status));
  }

  async transition(
    id: number,
    from: BatchStatus,
    to: BatchStatus,
    change: BatchChange,
    fence: LeaseFence,
  ): Promise<boolean> {
    const row = this.t.batches.get(String(id));
    const lease = this.t.leases.get(fence.name);
    if (!row || row.status !== from) return false;
    if (!lease || !fences(lease, fence)) return false;
    const { id: _id, root, leaf_count, sealed_at } = row;
    this.t.batches.set(String(id), {
      ...withChange(row, change),
      id,
      root,
      leaf_count,
      sealed_at,
      status: to,
    });
    return true;
  }

  async nodes(batchId: number, positions: readonly NodePosition[]): Promise<Uint8Array[]> {
    const levels = this.t.trees.get(String(batchId));
    return positions.map(({ level, index }) => {
      const nodes = levels?.[level];
      if (!nodes || !Number.isInteger(index) || index < 0 || (index + 1) * NODE_SIZE > nodes.length) {
        throw new Error(`batch ${batchId} has no tree node at level ${level}, index ${index}`);
      }
      return nodes.slice(index * NODE_SIZE, (index + 1) * NODE_SIZE);
    });
  }

  /** Empty for a batch that is not stored (as the SQL read of its level-0 chunks finds none). */
  async leaves(batchId: number): Promise<Uint8Array> {
    return this.t.trees.get(String(batchId))?.[0]?.slice() ?? new Uint8Array(0);
  }
}

/** Copies of the batches that pass `keep`, in id order. */
function sortedBatches(t: MemoryTables, keep: (batch: BatchRow) => boolean): BatchRow[] {
  return [...t.batches.values()]
    .filter(keep)
    .sort((a, b) => a.id - b.id)
    .map(copyRow);
}
