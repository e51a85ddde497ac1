/**
 * Sealing and proofs (src/service/batches.ts, proofs.ts) on the memory store: which events a seal
 * takes and in what order, BATCH_MAX_LEAVES, nothing to seal, and proofs read from the stored nodes
 * equal to the core's tree proofs for every leaf of trees of many shapes.
 */
import { describe, expect, it, vi } from 'vitest';
import {
  bytesToHex,
  MerkleTree,
  NODE_SIZE,
  processProof,
  verifyBundle,
  type Hex,
} from '../../src/core/index.ts';
import {
  batchLeaves,
  getBatch,
  listBatches,
  proofFromStore,
  proofOfEvent,
} from '../../src/service/batches.ts';
import { sealBatch } from '../../src/service/sealing.ts';
import type { ServiceContext } from '../../src/service/context.ts';
import type { Merchant } from '../../src/service/merchants.ts';
import { recordBundles } from '../../src/service/proofs.ts';
import { appendEvent } from '../../src/service/record-events.ts';
import { registerRecords } from '../../src/service/registration.ts';
import type { EventRow } from '../../src/storage/rows.ts';
import { memoryService, moveBatch, verifiedMerchant } from '../helpers/memory-context.ts';
import { outcome } from '../helpers/outcome.ts';
import { recordBody } from '../helpers/records.ts';

const CHAIN = { chainId: 31337, contract: `0x${'42'.repeat(20)}` as Hex };

async function register(
  ctx: ServiceContext,
  merchant: Merchant,
  prefix: string,
  n: number,
): Promise<string[]> {
  const inputs = Array.from({ length: n }, (_, i) => recordBody(`${prefix}-${i}`));
  return (await registerRecords(ctx, merchant, inputs)).records.map((r) => r.id);
}

/** Every event of these records, with its batch and leaf index. */
async function eventsOf(ctx: ServiceContext, ids: readonly string[]): Promise<EventRow[]> {
  return (await Promise.all(ids.map((id) => ctx.storage.events.ofRecord(id)))).flat();
}

describe('sealing on the memory store', () => {
  it('nothing waiting: no batch, and no batch id is used up', async () => {
    const { ctx, storage } = memoryService();
    expect(await sealBatch(ctx, 100)).toBeNull();
    expect(await storage.batches.nextId()).toBe(1);
  });

  it('seals the oldest events first (by time, then record id, then seq) under the root of their leaves', async () => {
    const { ctx, clock } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    const early = await register(ctx, merchant, 'early', 4);
    clock.advance(1_000);
    const late = await register(ctx, merchant, 'late', 2);
    clock.advance(1_000);
    await appendEvent(ctx, merchant, early[0]!, 'sold', undefined);
    clock.advance(1_000);

    const batch = (await sealBatch(ctx, 100))!;
    const events = await eventsOf(ctx, [...early, ...late]);
    const queueOrder = [...events].sort(
      (a, b) =>
        a.created_at.localeCompare(b.created_at) ||
        (a.record_id < b.record_id ? -1 : a.record_id > b.record_id ? 1 : 0) ||
        a.seq - b.seq,
    );
    const inBatch = [...events].sort((a, b) => a.leaf_index! - b.leaf_index!);
    expect(inBatch.map((e) => [e.record_id, e.seq])).toEqual(queueOrder.map((e) => [e.record_id, e.seq]));
    expect(inBatch.map((e) => e.batch_id)).toEqual(events.map(() => 1));
    expect(inBatch.map((e) => e.leaf_index)).toEqual(events.map((_, i) => i));
    expect(batch).toEqual({
      id: 1,
      root: MerkleTree.fromLeaves(inBatch.map((e) => e.leaf as Hex)).root,
      leaf_count: 7,
      status: 'sealed',
      sealed_at: '2025-01-01T00:00:03.000Z',
      raw_tx: null,
      tx_hash: null,
      block_number: null,
      block_hash: null,
      anchored_at: null,
      final_at: null,
      chain_root: null,
      // The item directory after this batch, kept in the same seal (issue 15).
      state_root: (await ctx.storage.directory.latest())!.root,
    });
    expect((await ctx.storage.directory.latest())!.version).toBe(1);
    expect(await getBatch(ctx, 1)).toEqual(batch);
    const leaves = await batchLeaves(ctx, 1);
    expect(bytesToHex(leaves)).toBe(`0x${inBatch.map((e) => e.leaf.slice(2)).join('')}`);
  });

  it('BATCH_MAX_LEAVES splits what waits into full batches, oldest first, and each event is in one', async () => {
    const { ctx, storage, clock } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push(...(await register(ctx, merchant, `m${i}`, 1)));
      clock.advance(10);
    }
    const sealed = [await sealBatch(ctx, 3), await sealBatch(ctx, 3), await sealBatch(ctx, 3)];
    expect(sealed.map((b) => [b!.id, b!.leaf_count])).toEqual([
      [1, 3],
      [2, 3],
      [3, 1],
    ]);
    expect(await sealBatch(ctx, 3)).toBeNull();
    const events = await eventsOf(ctx, ids);
    expect(events.map((e) => e.batch_id)).toEqual([1, 1, 1, 2, 2, 2, 3]);
    expect(await storage.events.unbatched(10)).toEqual({ count: 0, oldestAt: null });
  });

  it('events that arrive after a seal wait for the next batch', async () => {
    const { ctx } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    const [first] = await register(ctx, merchant, 'one', 1);
    await sealBatch(ctx, 100);
    await appendEvent(ctx, merchant, first!, 'sold', undefined);
    const next = (await sealBatch(ctx, 100))!;
    expect(next).toMatchObject({ id: 2, leaf_count: 1 });
    expect((await ctx.storage.events.ofRecord(first!)).map((e) => e.batch_id)).toEqual([1, 2]);
  });

  it('reads batches back: 404 batch_not_found, and pages by id', async () => {
    const { ctx, clock } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    for (let i = 0; i < 5; i++) {
      await register(ctx, merchant, `p${i}`, 1);
      clock.advance(10);
      await sealBatch(ctx, 100);
    }
    expect(await outcome(getBatch(ctx, 6))).toBe('404 batch_not_found');
    expect(await outcome(batchLeaves(ctx, 6))).toBe('404 batch_not_found');
    expect((await listBatches(ctx, 0, 2)).map((b) => b.id)).toEqual([1, 2]);
    expect((await listBatches(ctx, 2, 10)).map((b) => b.id)).toEqual([3, 4, 5]);
    expect(await listBatches(ctx, 5, 10)).toEqual([]);
  });
});

describe('proofs on the memory store', () => {
  it.each([1, 2, 3, 4, 5, 7, 8, 9, 16, 33])(
    'a batch of %i: the proof of every leaf, from stored nodes, is the core tree proof and reaches the root',
    async (n) => {
      const { ctx } = memoryService();
      const { merchant } = await verifiedMerchant(ctx);
      await register(ctx, merchant, 'leaf', n);
      const batch = (await sealBatch(ctx, 1000))!;
      const packed = await batchLeaves(ctx, batch.id);
      const tree = MerkleTree.fromPacked(new Uint8Array(packed));
      expect(tree.root).toBe(batch.root);
      for (let i = 0; i < n; i++) {
        const proof = await proofFromStore(ctx, batch.id, n, i);
        expect(proof, `leaf ${i}`).toEqual(tree.proof(i));
        expect(processProof(tree.leaf(i), proof)).toBe(batch.root);
      }
      expect(packed.length).toBe(n * NODE_SIZE);
    },
  );

  it("a final batch's proofs are cached; an unfinished batch's are read from the store every time", async () => {
    const { ctx, storage } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    const [id] = await register(ctx, merchant, 'c', 5);
    await sealBatch(ctx, 100);
    const nodes = vi.spyOn(storage.batches, 'nodes');
    const issuance = async () => (await storage.events.ofRecord(id!))[0]!;

    await moveBatch(storage, 1, 'anchored');
    const anchored = await proofOfEvent(ctx, await issuance());
    await proofOfEvent(ctx, await issuance());
    expect(nodes).toHaveBeenCalledTimes(2);

    await moveBatch(storage, 1, 'final');
    expect(await proofOfEvent(ctx, await issuance())).toEqual(anchored);
    expect(await proofOfEvent(ctx, await issuance())).toEqual(anchored);
    expect(nodes).toHaveBeenCalledTimes(3);
  });

  it('bundles: pending events carry no proof, root or anchor; anchored ones verify on their own', async () => {
    const { ctx, storage } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    const [id] = await register(ctx, merchant, 'b', 3);
    await sealBatch(ctx, 100);
    await appendEvent(ctx, merchant, id!, 'sold', undefined);

    const sealedOnly = await recordBundles(ctx, CHAIN, id!);
    expect(sealedOnly.map((b) => [b.proof, b.root, b.batchId, b.anchor.txHash, b.anchor.status])).toEqual([
      [null, null, null, null, 'pending'],
      [null, null, null, null, 'pending'],
    ]);
    expect(verifyBundle(sealedOnly[0])).toMatchObject({ valid: false, failure: 'not_anchored' });

    const batch = await moveBatch(storage, 1, 'anchored');
    const [issued, sold] = await recordBundles(ctx, CHAIN, id!);
    expect(issued).toMatchObject({
      seq: 0,
      batchId: 1,
      root: batch.root,
      anchor: { ...CHAIN, txHash: batch.tx_hash, blockNumber: batch.block_number, status: 'anchored' },
    });
    expect(verifyBundle(issued)).toMatchObject({ valid: true });
    expect(sold).toMatchObject({ seq: 1, proof: null, anchor: { status: 'pending' } });
    expect(await outcome(recordBundles(ctx, CHAIN, 'no-such-record'))).toBe('404 record_not_found');
  });
});
