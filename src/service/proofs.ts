/** Proof bundles (proofmark.bundle.v1) for a record's events, from what the service stores. */
import {
  BUNDLE_FORMAT_V1,
  BUNDLE_FORMAT_V2,
  type Hex,
  type ProofBundleV1,
  type ProofBundleV2,
} from '../core/index.ts';
import type { EventWithBatch } from '../storage/rows.ts';
import { eventAnchor } from './anchor-view.ts';
import { proofOfEvent } from './batches.ts';
import type { ServiceContext } from './context.ts';
import { stateProof } from './directory.ts';
import { notFound } from './errors.ts';
import { recordEvents } from './records.ts';

export interface ChainIdentity {
  chainId: number;
  contract: Hex;
}

export async function bundleForEvent(
  ctx: ServiceContext,
  chain: ChainIdentity,
  event: EventWithBatch,
): Promise<ProofBundleV1> {
  const anchor = eventAnchor(event);
  const anchored = anchor.status !== 'pending';
  return {
    format: BUNDLE_FORMAT_V1,
    recordId: event.record_id,
    seq: event.seq,
    prevLeaf: event.prev_leaf as Hex,
    content: JSON.parse(event.content) as Record<string, unknown>,
    leaf: event.leaf as Hex,
    proof: anchored ? await proofOfEvent(ctx, event) : null,
    root: anchored ? (event.root as Hex) : null,
    batchId: anchor.batchId,
    anchor: {
      chainId: chain.chainId,
      contract: chain.contract,
      txHash: anchor.txHash as Hex | null,
      blockNumber: anchor.blockNumber,
      status: anchor.status,
    },
  };
}

export async function recordBundles(
  ctx: ServiceContext,
  chain: ChainIdentity,
  recordId: string,
): Promise<ProofBundleV1[]> {
  // Every record has its issuance event, so no events means no record.
  const events = await recordEvents(ctx, recordId);
  if (events.length === 0) throw notFound('record_not_found', `no record with id ${recordId}`);
  return Promise.all(events.map((e) => bundleForEvent(ctx, chain, e)));
}

/**
 * The record's bundles as proofmark.bundle.v2 where the event is anchored: each v1 bundle with the
 * record's state under the directory root of the event's own batch. A pending event keeps its v1
 * bundle (it has no batch yet, so no state to prove).
 */
export async function recordBundlesV2(
  ctx: ServiceContext,
  chain: ChainIdentity,
  recordId: string,
): Promise<Array<ProofBundleV1 | ProofBundleV2>> {
  const bundles = await recordBundles(ctx, chain, recordId);
  const states = new Map<number, Awaited<ReturnType<typeof stateProof>>>();
  const out: Array<ProofBundleV1 | ProofBundleV2> = [];
  for (const bundle of bundles) {
    if (bundle.batchId === null) {
      out.push(bundle);
      continue;
    }
    let proved = states.get(bundle.batchId);
    if (!proved) {
      proved = await stateProof(ctx, recordId, bundle.batchId);
      states.set(bundle.batchId, proved);
    }
    out.push({
      ...bundle,
      format: BUNDLE_FORMAT_V2,
      state: { batchId: proved.batchId, stateRoot: proved.root, value: proved.state, proof: proved.proof },
    });
  }
  return out;
}
