/**
 * Sealing batches and reading them back. Sealing gives the oldest unbatched events the next batch
 * id, builds the tree once and stores every node, so proofs are point lookups, never a rebuild.
 */
import { bytesToHex, MerkleTree, NODE_SIZE, proofPositions, type Hex } from '../core/index.ts';
import type { BatchRow, BatchStatus } from '../storage/rows.ts';
import { iso, type ServiceContext } from './context.ts';
import { notFound } from './errors.ts';

/**
 * Seals up to `maxLeaves` pending events into batch max(id)+1, in one transaction: either the batch,
 * its nodes and every event's place in it are saved, or none of them. Returns null when nothing waits.
 * Seals racing on another instance make one of them fail with DuplicateKeyError (the batch id and
 * leaf places are unique keys); it may try again.
 */
export async function sealBatch(ctx: ServiceContext, maxLeaves: number): Promise<BatchRow | null> {
  return ctx.storage.transaction(async (tx) => {
    const batchId = await tx.batches.nextId();
    const leaves = await tx.events.assignOldestUnbatched(batchId, maxLeaves);
    if (leaves.length === 0) return null;
    const tree = MerkleTree.fromPacked(leaves);
    const batch: BatchRow = {
      id: batchId,
      root: tree.root,
      leaf_count: tree.leafCount,
      status: 'sealed',
      sealed_at: iso(ctx),
      raw_tx: null,
      tx_hash: null,
      block_number: null,
      block_hash: null,
      anchored_at: null,
      final_at: null,
      chain_root: null,
    };
    await tx.batches.insertSealed(batch, { root: tree.root, levels: tree.levels });
    return batch;
  });
}

/** 404 batch_not_found when there is no such batch. */
export async function getBatch(ctx: ServiceContext, id: number): Promise<BatchRow> {
  const batch = await ctx.storage.batches.get(id);
  if (!batch) throw notFound('batch_not_found', `no batch with id ${id}`);
  return batch;
}

/** Batches with id > after, in id order, at most `limit`. */
export function listBatches(ctx: ServiceContext, after: number, limit: number): Promise<BatchRow[]> {
  return ctx.storage.batches.list(after, limit);
}

/** The proof of an event in a sealed batch, from the cache when its batch is final. */
export async function proofOfEvent(
  ctx: ServiceContext,
  event: {
    batch_id: number | null;
    leaf_index: number | null;
    batch_leaf_count: number | null;
    batch_status: BatchStatus | null;
  },
): Promise<Hex[]> {
  const cached = ctx.proofCache?.get(event.batch_id!, event.leaf_index!);
  if (cached) return cached;
  const proof = await proofFromStore(ctx, event.batch_id!, event.batch_leaf_count!, event.leaf_index!);
  if (event.batch_status === 'final') ctx.proofCache?.set(event.batch_id!, event.leaf_index!, proof);
  return proof;
}

/** The proof of leaf `index` in batch `batchId`: the ~log2(n) sibling nodes, read in one go. */
export async function proofFromStore(
  ctx: ServiceContext,
  batchId: number,
  leafCount: number,
  index: number,
): Promise<Hex[]> {
  const positions = proofPositions(leafCount, index);
  if (positions.length === 0) return [];
  const nodes = await ctx.storage.batches.nodes(batchId, positions);
  return nodes.map((node) => bytesToHex(node));
}

/** The batch's leaves, 32 bytes each in tree order: what an auditor rebuilds the root from. */
export async function batchLeaves(ctx: ServiceContext, batchId: number): Promise<Buffer> {
  const batch = await getBatch(ctx, batchId);
  const leaves = await ctx.storage.batches.leaves(batchId);
  if (leaves.length !== batch.leaf_count * NODE_SIZE)
    throw new Error(`batch ${batchId} leaves are incomplete`);
  return Buffer.from(leaves.buffer, leaves.byteOffset, leaves.length);
}
