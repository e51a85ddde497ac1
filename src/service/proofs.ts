/** Proof bundles (proofmark.bundle.v1) for a record's events, from what the service stores. */
import { BUNDLE_FORMAT_V1, type Hex, type ProofBundleV1 } from '../core/index.ts';
import { proofFromStore } from './batches.ts';
import type { ServiceContext } from './context.ts';
import { anchorStatusOf, getRecord, recordEvents, type EventWithBatch } from './records.ts';

export interface ChainIdentity {
  chainId: number;
  contract: Hex;
}

export async function bundleForEvent(
  ctx: ServiceContext,
  chain: ChainIdentity,
  event: EventWithBatch,
): Promise<ProofBundleV1> {
  const status = anchorStatusOf(event.batch_status);
  const anchored = status !== 'pending';
  return {
    format: BUNDLE_FORMAT_V1,
    recordId: event.record_id,
    seq: event.seq,
    prevLeaf: event.prev_leaf as Hex,
    content: JSON.parse(event.content) as Record<string, unknown>,
    leaf: event.leaf as Hex,
    proof: anchored
      ? await proofFromStore(ctx, event.batch_id!, event.batch_leaf_count!, event.leaf_index!)
      : null,
    root: anchored ? (event.root as Hex) : null,
    batchId: anchored ? event.batch_id : null,
    anchor: {
      chainId: chain.chainId,
      contract: chain.contract,
      txHash: anchored ? (event.tx_hash as Hex) : null,
      blockNumber: anchored ? event.block_number : null,
      status,
    },
  };
}

export async function recordBundles(
  ctx: ServiceContext,
  chain: ChainIdentity,
  recordId: string,
): Promise<ProofBundleV1[]> {
  await getRecord(ctx, recordId);
  const events = await recordEvents(ctx, recordId);
  return Promise.all(events.map((e) => bundleForEvent(ctx, chain, e)));
}
