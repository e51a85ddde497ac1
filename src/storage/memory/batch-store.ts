/** BatchStore over memory tables. See storage.ts for the contract of each method. */
import { NODE_SIZE, type Hex, type NodePosition } from '../../core/index.ts';
import type { BatchChange, BatchRow, BatchStatus, LeaseFence, OpenSeal, SealedTree } from '../rows.ts';
import type { BatchStore } from '../storage.ts';
import { copyRow, withChange } from './copies.ts';
import { holdsLease } from './lease-store.ts';
import type { MemoryTables } from './tables.ts';
import { assertUniqueKeys } from './unique.ts';

export class MemoryBatchStore implements BatchStore {
  constructor(private readonly t: MemoryTables) {}

  async nextId(): Promise<number> {
    let max = 0;
    for (const batch of this.t.batches.values()) max = Math.max(max, batch.id);
    for (const seal of this.t.seals.values()) max = Math.max(max, seal.id);
    return max + 1;
  }

  async insertSealed(batch: BatchRow, tree: SealedTree): Promise<void> {
    assertUniqueKeys(this.t.batches, [String(batch.id)], 'batch id');
    assertUniqueKeys(this.t.seals, [String(batch.id)], 'batch id');
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

  async latestAnchoredState(): Promise<BatchRow | undefined> {
    return sortedBatches(
      this.t,
      (b) => (b.status === 'anchored' || b.status === 'final') && b.state_root !== null,
    ).at(-1);
  }

  async openSeal(): Promise<OpenSeal | undefined> {
    const newest = (await this.nextId()) - 1;
    const seal = this.t.seals.get(String(newest));
    return seal && { ...seal };
  }

  async beginSeal(id: number, fence: LeaseFence): Promise<boolean> {
    assertUniqueKeys(this.t.batches, [String(id)], 'batch id');
    assertUniqueKeys(this.t.seals, [String(id)], 'batch id');
    if (!holdsLease(this.t, fence)) return false;
    this.t.seals.set(String(id), { id, leaf_count: 0 });
    return true;
  }

  /** Stores the whole tree at once: memory has no statement to keep short. */
  async storeSealNodes(
    id: number,
    tree: SealedTree,
    _from: number,
    fence: LeaseFence,
  ): Promise<number | null> {
    if (!this.t.seals.has(String(id)) || !holdsLease(this.t, fence)) return null;
    this.t.trees.set(
      String(id),
      tree.levels.map((level) => level.slice()),
    );
    return tree.levels.reduce((n, level) => n + level.length / NODE_SIZE, 0);
  }

  async completeSeal(
    id: number,
    root: Hex,
    leafCount: number,
    sealedAt: string,
    fence: LeaseFence,
    stateRoot: Hex | null = null,
  ): Promise<boolean> {
    const seal = this.t.seals.get(String(id));
    if (!seal || seal.leaf_count !== leafCount || !holdsLease(this.t, fence)) return false;
    this.t.seals.delete(String(id));
    this.t.batches.set(String(id), {
      id,
      root,
      leaf_count: leafCount,
      status: 'sealed',
      sealed_at: sealedAt,
      raw_tx: null,
      tx_hash: null,
      block_number: null,
      block_hash: null,
      anchored_at: null,
      final_at: null,
      chain_root: null,
      state_root: stateRoot,
    });
    return true;
  }

  async transition(
    id: number,
    from: BatchStatus,
    to: BatchStatus,
    change: BatchChange,
    fence: LeaseFence,
  ): Promise<boolean> {
    const row = this.t.batches.get(String(id));
    if (!row || row.status !== from) return false;
    if (!holdsLease(this.t, fence)) return false;
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
