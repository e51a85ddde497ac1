/**
 * Freshness against the chain: the latest anchored batch (nextBatchId - 1) and the state root its
 * anchor logged (StateRootAnchored), then core's checkFreshness on what the service, untrusted,
 * answers for that batch. The service is asked for exactly the chain's batch, so a stale or
 * withheld answer cannot pass as current: it is 'unconfirmed'.
 */
import { checkFreshness, type Freshness, type Hex } from '../core/index.ts';
import type { AnchorChain, StateRootEvent } from './registry.ts';

/** The chain's latest anchored state, or why there is none to check against. */
export type LatestAnchoredState =
  { ok: true; batchId: number; event: StateRootEvent } | { ok: false; reason: string };

export async function latestAnchoredState(
  chain: Pick<AnchorChain, 'nextBatchId' | 'findStateRoot'>,
): Promise<LatestAnchoredState> {
  const batchId = (await chain.nextBatchId()) - 1;
  if (batchId < 1) return { ok: false, reason: 'no batch is anchored on the registry' };
  const event = await chain.findStateRoot(batchId);
  if (!event) {
    return {
      ok: false,
      reason: `batch ${batchId}, the latest anchored, has no state root on chain (anchored without anchorWithState)`,
    };
  }
  return { ok: true, batchId, event };
}

export type FreshnessReport = Freshness & {
  /** Where the chain's latest state root was anchored, when one was found. */
  anchoredAt?: StateRootEvent;
};

/**
 * Whether the event is its record's latest state as of the chain's latest anchored batch.
 * `askService(batchId)` fetches the state proof (any value; a rejection counts as no answer).
 */
export async function freshnessOnChain(
  chain: Pick<AnchorChain, 'nextBatchId' | 'findStateRoot'>,
  event: { recordId: string; seq: number; leaf: Hex },
  askService: (batchId: number) => Promise<unknown>,
): Promise<FreshnessReport> {
  const latest = await latestAnchoredState(chain);
  if (!latest.ok) return { status: 'unconfirmed', reason: latest.reason };
  let answer: unknown = null;
  let failure: string | null = null;
  try {
    answer = await askService(latest.batchId);
  } catch (err) {
    failure = err instanceof Error ? err.message : String(err);
  }
  if (failure !== null) {
    return {
      status: 'unconfirmed',
      reason: `the service gave no state proof for batch ${latest.batchId}: ${failure}`,
      anchoredAt: latest.event,
    };
  }
  const verdict = checkFreshness(
    event,
    { batchId: latest.batchId, stateRoot: latest.event.stateRoot },
    answer,
  );
  return { ...verdict, anchoredAt: latest.event };
}
