/**
 * The freshness field of GET /v1/verify/:id and POST /v1/verify: whether an event is still its
 * record's latest state as of the latest batch whose state root is anchored, judged by core's
 * checkFreshness, the same check `proofmark verify --api` makes with the root it reads from the
 * chain. Here the root is the one this service recorded as anchored (no RPC call per request); a
 * verifier who does not trust the service reads it from the chain instead.
 */
import { checkFreshness, type Hex } from '../core/index.ts';
import type { ServiceContext } from './context.ts';
import { stateProof } from './directory.ts';
import { asStateProofDocument } from './state-proofs.ts';

export interface FreshnessField {
  status: 'current' | 'superseded' | 'unconfirmed';
  /** The batch whose anchored state root it was judged against; null when there is none. */
  asOfBatch: number | null;
  /** The record's latest seq as of that batch, and whether that event ended the record. */
  latestSeq?: number;
  ended?: boolean;
  /** Why it could not be confirmed. */
  reason?: string;
}

export async function freshnessOf(
  ctx: Pick<ServiceContext, 'storage'>,
  event: { recordId: string; seq: number; leaf: Hex },
): Promise<FreshnessField> {
  const batch = await ctx.storage.batches.latestAnchoredState();
  if (!batch || batch.state_root === null) {
    return {
      status: 'unconfirmed',
      asOfBatch: null,
      reason: 'no batch has its state root anchored yet (or the registry predates anchorWithState)',
    };
  }
  const proved = await stateProof(ctx, event.recordId, batch.id);
  const verdict = checkFreshness(
    event,
    { batchId: batch.id, stateRoot: batch.state_root as Hex },
    asStateProofDocument(event.recordId, proved, null),
  );
  if (verdict.status === 'unconfirmed') {
    return { status: 'unconfirmed', asOfBatch: batch.id, reason: verdict.reason };
  }
  return {
    status: verdict.status,
    asOfBatch: verdict.batchId,
    latestSeq: verdict.value.seq,
    ended: verdict.value.ended,
  };
}
