/** BatchStore: sealed batches, their trees, and the fenced compare-and-set of their state. */
import { expect, it } from 'vitest';
import { bytesToHex, processProof, proofPositions, type NodePosition } from '../../../src/core/index.ts';
import { DuplicateKeyError } from '../../../src/storage/errors.ts';
import type { BatchRow, BatchStatus, LeaseFence } from '../../../src/storage/rows.ts';
import type { Storage } from '../../../src/storage/storage.ts';
import { at, batchRow, lead, NOW_MS, treeOf } from '../fixtures.ts';

/** Stores batch `id` over a small tree of its own and moves it to `status`. */
async function batchIn(s: Storage, id: number, status: BatchStatus, fence: LeaseFence): Promise<void> {
  const tree = treeOf(2, `batch ${id}`);
  await s.batches.insertSealed(batchRow(id, tree), tree);
  const path: BatchStatus[] = ['sealed', 'submitted', 'anchored', 'final'];
  for (let i = 0; path[i] !== status; i++) {
    expect(await s.batches.transition(id, path[i]!, path[i + 1]!, {}, fence)).toBe(true);
  }
}

const idsOf = (rows: readonly BatchRow[]) => rows.map((b) => b.id);

export function batchBehaviour(storage: () => Storage): void {
  it('numbers the next batch one past the highest stored', async () => {
    const s = storage();
    expect(await s.batches.nextId()).toBe(1);
    const tree = treeOf(3);
    await s.batches.insertSealed(batchRow(1, tree), tree);
    expect(await s.batches.nextId()).toBe(2);
    await s.batches.insertSealed(batchRow(5, tree), tree);
    expect(await s.batches.nextId()).toBe(6);
  });

  it('stores a sealed batch and reads it back; refuses its id again and keeps the first', async () => {
    const s = storage();
    const tree = treeOf(3);
    await s.batches.insertSealed(batchRow(1, tree), tree);
    expect(await s.batches.get(1)).toEqual(batchRow(1, tree));
    expect(await s.batches.get(2)).toBeUndefined();

    const other = treeOf(4, 'other');
    await expect(s.batches.insertSealed(batchRow(1, other), other)).rejects.toBeInstanceOf(DuplicateKeyError);
    expect(await s.batches.get(1)).toEqual(batchRow(1, tree));
    expect(bytesToHex(await s.batches.leaves(1))).toBe(bytesToHex(tree.levels[0]!));
  });

  it("stores a batch as 'sealed' whatever status the row handed in says", async () => {
    const s = storage();
    const tree = treeOf(2);
    await s.batches.insertSealed({ ...batchRow(1, tree), status: 'final' }, tree);
    expect(await s.batches.get(1)).toEqual(batchRow(1, tree));
  });

  it('lists batches after an id, in id order, at most the limit', async () => {
    const s = storage();
    for (const id of [3, 1, 5, 2, 4]) {
      const tree = treeOf(1, `b${id}`);
      await s.batches.insertSealed(batchRow(id, tree), tree);
    }
    expect(idsOf(await s.batches.list(0, 2))).toEqual([1, 2]);
    expect(idsOf(await s.batches.list(2, 10))).toEqual([3, 4, 5]);
    expect(idsOf(await s.batches.list(5, 10))).toEqual([]);
  });

  it('lists unfinished batches, the newest final ones, and batches by status', async () => {
    const s = storage();
    const fence = await lead(s);
    const statuses: [number, BatchStatus][] = [
      [4, 'final'],
      [2, 'final'],
      [6, 'sealed'],
      [1, 'final'],
      [3, 'anchored'],
      [5, 'submitted'],
    ];
    for (const [id, status] of statuses) await batchIn(s, id, status, fence);
    expect(idsOf(await s.batches.unfinished())).toEqual([3, 5, 6]);
    expect(idsOf(await s.batches.newestFinal(2))).toEqual([4, 2]);
    expect(idsOf(await s.batches.newestFinal(10))).toEqual([4, 2, 1]);
    expect(idsOf(await s.batches.withStatus(['sealed', 'final']))).toEqual([1, 2, 4, 6]);
    expect(idsOf(await s.batches.withStatus(['submitted']))).toEqual([5]);
    expect(await s.batches.withStatus([])).toEqual([]);
  });

  it('finds the newest anchored or final batch that has a state root', async () => {
    const s = storage();
    const fence = await lead(s);
    expect(await s.batches.latestAnchoredState()).toBeUndefined();
    const withState = async (id: number, status: BatchStatus, stateRoot: string | null) => {
      const tree = treeOf(2, `state ${id}`);
      await s.batches.insertSealed({ ...batchRow(id, tree), state_root: stateRoot }, tree);
      const path: BatchStatus[] = ['sealed', 'submitted', 'anchored', 'final'];
      for (let i = 0; path[i] !== status; i++) {
        expect(await s.batches.transition(id, path[i]!, path[i + 1]!, {}, fence)).toBe(true);
      }
    };
    await withState(1, 'final', `0x${'01'.repeat(32)}`);
    await withState(2, 'anchored', `0x${'02'.repeat(32)}`);
    await withState(3, 'anchored', null); // anchored on a registry without anchorWithState
    await withState(4, 'submitted', `0x${'04'.repeat(32)}`);
    expect(await s.batches.latestAnchoredState()).toMatchObject({
      id: 2,
      state_root: `0x${'02'.repeat(32)}`,
    });
    // Sent to an old registry: the transition clears the state root, and the batch no longer counts.
    expect(await s.batches.transition(2, 'anchored', 'final', { state_root: null }, fence)).toBe(true);
    expect(await s.batches.latestAnchoredState()).toMatchObject({ id: 1 });
  });

  it('moves a batch from the expected state with its change, and says so', async () => {
    const s = storage();
    const tree = treeOf(2);
    await s.batches.insertSealed(batchRow(1, tree), tree);
    const fence = await lead(s);
    const sent = { raw_tx: '0xf8', tx_hash: '0xaa' };
    expect(await s.batches.transition(1, 'sealed', 'submitted', sent, fence)).toBe(true);
    expect(await s.batches.get(1)).toEqual({ ...batchRow(1, tree), ...sent, status: 'submitted' });

    // A change within the same state (the development chain's replay rewrites the anchor fields).
    const mined = { tx_hash: '0xcc', block_number: 12, block_hash: '0xdd', anchored_at: at(300) };
    expect(await s.batches.transition(1, 'submitted', 'anchored', mined, fence)).toBe(true);
    expect(await s.batches.transition(1, 'anchored', 'anchored', { block_number: 13 }, fence)).toBe(true);
    expect(await s.batches.get(1)).toEqual({
      ...batchRow(1, tree),
      ...sent,
      ...mined,
      block_number: 13,
      status: 'anchored',
    });
  });

  it('changes nothing when the batch is no longer in the expected state', async () => {
    const s = storage();
    const tree = treeOf(2);
    await s.batches.insertSealed(batchRow(1, tree), tree);
    const fence = await lead(s);
    expect(await s.batches.transition(1, 'sealed', 'submitted', { tx_hash: '0xaa' }, fence)).toBe(true);
    expect(await s.batches.transition(1, 'sealed', 'submitted', { tx_hash: '0xbb' }, fence)).toBe(false);
    expect(await s.batches.transition(1, 'anchored', 'final', { chain_root: tree.root }, fence)).toBe(false);
    expect(await s.batches.get(1)).toEqual({ ...batchRow(1, tree), status: 'submitted', tx_hash: '0xaa' });
    expect(await s.batches.transition(2, 'sealed', 'submitted', {}, fence)).toBe(false);
    expect(await s.batches.get(2)).toBeUndefined();
  });

  it("changes nothing under a fence that does not hold the batch's lease", async () => {
    const s = storage();
    const tree = treeOf(2);
    await s.batches.insertSealed(batchRow(1, tree), tree);
    const fence = await lead(s);
    const stale: LeaseFence[] = [
      { ...fence, token: fence.token + 1 },
      { ...fence, holder: 'someone-else' },
      { ...fence, name: 'another-lease' },
    ];
    for (const f of stale) expect(await s.batches.transition(1, 'sealed', 'submitted', {}, f)).toBe(false);

    // The lease expires and passes to another holder: the former leader's fence no longer writes.
    const next = await s.leases.acquire('anchorer', 'successor', 60_000, NOW_MS + 120_000);
    expect(next).not.toBeNull();
    expect(await s.batches.transition(1, 'sealed', 'submitted', { tx_hash: '0xaa' }, fence)).toBe(false);
    expect(await s.batches.get(1)).toEqual(batchRow(1, tree));
    expect(await s.batches.transition(1, 'sealed', 'submitted', { tx_hash: '0xbb' }, next!)).toBe(true);
    expect((await s.batches.get(1))?.tx_hash).toBe('0xbb');
  });

  it('reads tree nodes in the order asked, across levels and far into wide levels', async () => {
    const s = storage();
    // 1,000 leaves: several SQL chunks per level and an odd node carried up at some levels.
    const tree = treeOf(1000);
    await s.batches.insertSealed(batchRow(1, tree), tree);
    const top = tree.levels.length - 1;
    const asked: NodePosition[] = [
      { level: 3, index: 124 },
      { level: 0, index: 999 },
      { level: top, index: 0 },
      { level: 0, index: 0 },
      { level: 0, index: 513 },
      { level: 1, index: 300 },
      { level: 0, index: 513 },
    ];
    const nodes = await s.batches.nodes(1, asked);
    expect(nodes.map(bytesToHex)).toEqual(asked.map((p) => bytesToHex(tree.node(p))));
    expect(await s.batches.nodes(1, [])).toEqual([]);

    for (const index of [0, 255, 256, 511, 998, 999]) {
      const proof = await s.batches.nodes(1, proofPositions(1000, index));
      expect(processProof(tree.leaf(index), proof.map(bytesToHex))).toBe(tree.root);
    }
  });

  it('throws when a tree node asked for is not stored', async () => {
    const s = storage();
    const tree = treeOf(5);
    await s.batches.insertSealed(batchRow(1, tree), tree);
    await expect(s.batches.nodes(1, [{ level: 0, index: 5 }])).rejects.toThrow();
    await expect(
      s.batches.nodes(1, [
        { level: 0, index: 1 },
        { level: 1, index: 3 },
      ]),
    ).rejects.toThrow();
    await expect(s.batches.nodes(1, [{ level: tree.levels.length, index: 0 }])).rejects.toThrow();
    await expect(s.batches.nodes(2, [{ level: 0, index: 0 }])).rejects.toThrow();
  });

  it('returns every leaf packed in tree order', async () => {
    const s = storage();
    for (const [id, count] of [
      [1, 1],
      [2, 1000],
    ] as const) {
      const tree = treeOf(count, `b${id}`);
      await s.batches.insertSealed(batchRow(id, tree), tree);
      const leaves = await s.batches.leaves(id);
      expect(leaves.length).toBe(count * 32);
      expect(bytesToHex(leaves)).toBe(bytesToHex(tree.levels[0]!));
    }
  });
}
