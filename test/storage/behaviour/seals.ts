/** Seals in steps: an open seal takes its id, fills in fenced steps, and is invisible until completed. */
import { expect, it } from 'vitest';
import { bytesToHex, MerkleTree, NODE_SIZE, processProof, proofPositions } from '../../../src/core/index.ts';
import { DuplicateKeyError } from '../../../src/storage/errors.ts';
import type { LeaseFence, SealedTree } from '../../../src/storage/rows.ts';
import type { Storage } from '../../../src/storage/storage.ts';
import { at, batchRow, hash, NOW_MS, seedRecords, treeOf } from '../fixtures.ts';

async function sealer(s: Storage, holder = 'sealer-a', nowMs = NOW_MS): Promise<LeaseFence> {
  const fence = await s.leases.acquire('sealer', holder, 60_000, nowMs);
  if (!fence) throw new Error('the sealer lease is taken');
  return fence;
}

/** Stores `tree` for open seal `id` part by part, as a sealer does; returns how many calls it took. */
async function storeAll(s: Storage, id: number, tree: SealedTree, fence: LeaseFence): Promise<number> {
  const total = tree.levels.reduce((n, level) => n + level.length / NODE_SIZE, 0);
  let calls = 0;
  for (let from = 0; from < total; calls++) {
    const next = await s.batches.storeSealNodes(id, tree, from, fence);
    expect(next).not.toBeNull();
    expect(next!).toBeGreaterThan(from);
    from = next!;
  }
  return calls;
}

/** A cut-off later than every fixture event. */
const LATER = at(1_000_000);

const hexLeaves = (packed: Uint8Array) =>
  Array.from({ length: packed.length / NODE_SIZE }, (_, i) =>
    bytesToHex(packed.subarray(i * NODE_SIZE, (i + 1) * NODE_SIZE)),
  );

export function sealBehaviour(storage: () => Storage): void {
  it('fills an open seal step by step, oldest first, and shows nothing of it until it is completed', async () => {
    const s = storage();
    const ids = ['ra', 'rb', 'rc', 'rd', 're'];
    for (const [i, id] of ids.entries()) await seedRecords(s, 'm1', [id], at(i));
    const fence = await sealer(s);

    expect(await s.batches.openSeal()).toBeUndefined();
    expect(await s.batches.beginSeal(1, fence)).toBe(true);
    expect(await s.batches.openSeal()).toEqual({ id: 1, leaf_count: 0 });
    expect(await s.batches.nextId()).toBe(2);

    const first = await s.events.assignToSeal(1, 2, LATER, fence);
    // Only events created up to the cut-off: re (at 4 s) waits while the cut-off is 3 s.
    const upTo3 = await s.events.assignToSeal(1, 10, at(3), fence);
    const rest = await s.events.assignToSeal(1, 10, LATER, fence);
    expect((await s.events.assignToSeal(1, 10, LATER, fence))?.length).toBe(0);
    const leaves = await Promise.all(ids.map(async (id) => (await s.events.leafAt(id, 0))!));
    expect(hexLeaves(first!)).toEqual(leaves.slice(0, 2));
    expect(hexLeaves(upTo3!)).toEqual(leaves.slice(2, 4));
    expect(hexLeaves(rest!)).toEqual(leaves.slice(4));
    expect(await s.batches.openSeal()).toEqual({ id: 1, leaf_count: 5 });

    // Invisible: no batch to read, its events look unbatched, yet they count as awaiting final.
    expect(await s.batches.get(1)).toBeUndefined();
    expect(await s.batches.list(0, 10)).toEqual([]);
    expect(await s.batches.unfinished()).toEqual([]);
    expect(await s.batches.withStatus(['sealed', 'submitted', 'anchored', 'final'])).toEqual([]);
    const [event] = await s.events.ofRecord('rc');
    expect(event).toMatchObject({ batch_id: 1, leaf_index: 2, batch_status: null, root: null });
    expect(await s.events.issuanceStatuses(['rc'])).toEqual(new Map([['rc', null]]));
    expect(await s.events.unbatched(10)).toEqual({ count: 0, oldestAt: null });
    expect(await s.events.countAwaitingFinal()).toBe(5);

    // Its leaves and their times read back by leaf index (what a sealer taking it up reads).
    expect(hexLeaves(await s.events.batchLeaves(1, 0, 10))).toEqual(leaves);
    expect(hexLeaves(await s.events.batchLeaves(1, 3, 1))).toEqual(leaves.slice(3, 4));
    expect(await s.events.createdAtOfLeaves(1, [4, 0, 9])).toEqual([at(4), at(0), undefined]);

    const tree = MerkleTree.fromLeaves(leaves as `0x${string}`[]);
    await storeAll(s, 1, tree, fence);
    expect(await s.batches.completeSeal(1, tree.root, 4, at(100), fence)).toBe(false);
    expect(await s.batches.completeSeal(1, tree.root, 5, at(100), fence)).toBe(true);
    expect(await s.batches.completeSeal(1, tree.root, 5, at(100), fence)).toBe(false);

    expect(await s.batches.openSeal()).toBeUndefined();
    expect(await s.batches.get(1)).toEqual(batchRow(1, tree, at(100)));
    expect(idsOf(await s.batches.unfinished())).toEqual([1]);
    expect((await s.events.ofRecord('rc'))[0]).toMatchObject({ batch_status: 'sealed', root: tree.root });
    expect(hexLeaves(await s.batches.leaves(1))).toEqual(leaves);
    const proof = await s.batches.nodes(1, proofPositions(5, 3));
    expect(
      processProof(
        leaves[3] as `0x${string}`,
        proof.map((n) => bytesToHex(n)),
      ),
    ).toBe(tree.root);
  });

  it('stores a large tree in bounded parts, replacing the parts an interrupted sealer stored', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['ra']);
    const fence = await sealer(s);
    expect(await s.batches.beginSeal(1, fence)).toBe(true);
    expect((await s.events.assignToSeal(1, 1, LATER, fence))?.length).toBe(NODE_SIZE);
    // A sealer that died halfway left a tree of other nodes; the next one stores the right tree whole.
    const stale = treeOf(20_000, 'stale');
    await s.batches.storeSealNodes(1, stale, 0, fence);
    const right = treeOf(20_000);
    await storeAll(s, 1, right, fence);
    // The leaf count is the seal's own (1 event here): completing needs it, the tree is the sealer's.
    expect(await s.batches.completeSeal(1, right.root, 1, at(100), fence)).toBe(true);
    const asked = [
      { level: 0, index: 19_999 },
      { level: 0, index: 0 },
      { level: 3, index: 1000 },
      { level: right.levels.length - 1, index: 0 },
    ];
    const nodes = await s.batches.nodes(1, asked);
    expect(nodes.map((n) => bytesToHex(n))).toEqual(asked.map((p) => bytesToHex(right.node(p))));
  });

  it('takes the next id, and refuses one a batch or another seal holds', async () => {
    const s = storage();
    const fence = await sealer(s);
    const tree = treeOf(2);
    await s.batches.insertSealed(batchRow(1, tree), tree);
    await expect(s.batches.beginSeal(1, fence)).rejects.toBeInstanceOf(DuplicateKeyError);
    expect(await s.batches.beginSeal(2, fence)).toBe(true);
    await expect(s.batches.beginSeal(2, fence)).rejects.toBeInstanceOf(DuplicateKeyError);
    await expect(s.batches.insertSealed(batchRow(2, tree), tree)).rejects.toBeInstanceOf(DuplicateKeyError);
    expect(await s.batches.nextId()).toBe(3);
    expect(await s.batches.openSeal()).toEqual({ id: 2, leaf_count: 0 });
  });

  it('writes nothing for a sealer whose lease passed on, or for a batch that is no open seal', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['ra', 'rb']);
    const stale = await sealer(s);
    expect(await s.batches.beginSeal(1, stale)).toBe(true);
    expect((await s.events.assignToSeal(1, 1, LATER, stale))?.length).toBe(NODE_SIZE);
    // The lease expires and passes to another sealer, which takes the open seal up.
    const next = await sealer(s, 'sealer-b', NOW_MS + 120_000);
    const tree = treeOf(1);
    expect(await s.events.assignToSeal(1, 1, LATER, stale)).toBeNull();
    expect(await s.batches.storeSealNodes(1, tree, 0, stale)).toBeNull();
    expect(await s.batches.completeSeal(1, tree.root, 1, at(100), stale)).toBe(false);
    expect(await s.batches.beginSeal(2, stale)).toBe(false);
    expect(await s.batches.openSeal()).toEqual({ id: 1, leaf_count: 1 });
    expect(await s.events.unbatched(10)).toMatchObject({ count: 1 });

    expect((await s.events.assignToSeal(1, 5, LATER, next))?.length).toBe(NODE_SIZE);
    expect(await s.events.assignToSeal(2, 5, LATER, next)).toBeNull();
    expect(await s.batches.storeSealNodes(2, tree, 0, next)).toBeNull();
    expect(await s.batches.completeSeal(2, tree.root, 0, at(100), next)).toBe(false);
    expect(await s.batches.openSeal()).toEqual({ id: 1, leaf_count: 2 });
  });

  it("stages an open seal's directory pages unseen until its version is stored, fenced", async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['ra']);
    const page = (path: string, text: string) => ({ path, page: new TextEncoder().encode(text) });
    const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    const stale = await sealer(s);
    // No open seal 1 yet: nothing may be staged under version 1.
    expect(await s.directory.stagePages(1, [page('', 'x')], stale)).toBe(false);
    expect(await s.directory.discardStaged(1, 10, stale)).toBeNull();
    expect(await s.batches.beginSeal(1, stale)).toBe(true);
    expect(await s.directory.stagePages(1, [page('', 'old root'), page('a', 'old a')], stale)).toBe(true);
    expect(await s.directory.stagePages(1, [page('b', 'old b')], stale)).toBe(true);
    await expect(s.directory.stagePages(1, [page('a', 'again')], stale)).rejects.toBeInstanceOf(
      DuplicateKeyError,
    );
    // Staged pages are no version: the latest stays none.
    expect(await s.directory.latest()).toBeUndefined();

    // The lease passes on: the stale sealer stages and discards nothing more.
    const next = await sealer(s, 'sealer-b', NOW_MS + 120_000);
    expect(await s.directory.stagePages(1, [page('c', 'stale c')], stale)).toBe(false);
    expect(await s.directory.discardStaged(1, 10, stale)).toBeNull();
    // The next sealer discards what the first staged, part by part, then stages its own.
    expect(await s.directory.discardStaged(1, 2, next)).toBe(2);
    expect(await s.directory.discardStaged(1, 2, next)).toBe(1);
    expect(await s.directory.discardStaged(1, 2, next)).toBe(0);
    await expect(s.directory.pages([{ version: 1, path: 'a' }])).rejects.toThrow(/missing/);
    expect(await s.directory.stagePages(1, [page('', 'root'), page('a', 'a')], next)).toBe(true);
    expect(await s.directory.stagePages(1, [page('c', 'c')], next)).toBe(true);

    // Storing the version with no pages of its own makes the staged ones its pages.
    await s.directory.insertVersion({ version: 1, root: hash('root 1'), record_count: 3 }, []);
    expect(await s.directory.latest()).toEqual({ version: 1, root: hash('root 1'), record_count: 3 });
    const read = await s.directory.pages([
      { version: 1, path: 'c' },
      { version: 1, path: '' },
      { version: 1, path: 'a' },
    ]);
    expect(read.map(text)).toEqual(['c', 'root', 'a']);
    await expect(s.directory.pages([{ version: 1, path: 'b' }])).rejects.toThrow(/missing/);
    // A stored version takes no more staged pages, nor loses any.
    expect(await s.directory.stagePages(1, [page('d', 'd')], next)).toBe(false);
    expect(await s.directory.discardStaged(1, 10, next)).toBeNull();
  });

  it("reads a batch's events a page at a time, an open seal's too", async () => {
    const s = storage();
    const ids = ['ra', 'rb', 'rc', 'rd', 're'];
    for (const [i, id] of ids.entries()) await seedRecords(s, 'm1', [id], at(i));
    const fence = await sealer(s);
    expect(await s.batches.beginSeal(1, fence)).toBe(true);
    expect((await s.events.assignToSeal(1, 5, LATER, fence))?.length).toBe(5 * NODE_SIZE);
    const all = await s.events.ofBatch(1);
    expect(all.map((e) => e.record_id)).toEqual(ids);
    expect(await s.events.ofBatch(1, 0, 2)).toEqual(all.slice(0, 2));
    expect(await s.events.ofBatch(1, 2, 2)).toEqual(all.slice(2, 4));
    expect(await s.events.ofBatch(1, 4, 2)).toEqual(all.slice(4));
    expect(await s.events.ofBatch(1, 5, 2)).toEqual([]);
    expect(await s.events.ofBatch(1, 3)).toEqual(all.slice(3));
  });
}

const idsOf = (rows: readonly { id: number }[]) => rows.map((r) => r.id);
