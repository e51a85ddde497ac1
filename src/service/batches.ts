/**
 * Reading batches back: the batches, their proofs and their leaves. (Sealing them: sealing.ts.)
 */
import { bytesToHex, NODE_SIZE, proofPositions, type Hex } from '../core/index.ts';
import type { BatchRow, BatchStatus } from '../storage/rows.ts';
import type { ServiceContext } from './context.ts';
import { notFound } from './errors.ts';

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
