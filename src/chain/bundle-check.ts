/**
 * The second half of verifying a bundle: the pure checks (src/core/verify.ts), then the chain named
 * in the bundle: same chain id, the root anchored under the batch id, and final: enough
 * confirmations, or at or below the node's safe/finalized block.
 */
import { verifyBundle, type BundleFailure, type ProofBundleV1 } from '../core/index.ts';
import type { FinalityRule } from './finality.ts';
import type { AnchorChain } from './registry.ts';

export type ChainFailure = 'chain_id_mismatch' | 'contract_mismatch' | 'root_not_on_chain' | 'not_final';

export type ChainVerdict =
  | { valid: true; bundle: ProofBundleV1; confirmations: number; blockNumber: number }
  | { valid: false; failure: BundleFailure | ChainFailure; reason: string };

/**
 * Checks `value` as a bundle, then against `chain`. `finality` is a number of confirmations or a
 * rule; the verdict's `confirmations` is the anchor's depth either way.
 */
export async function verifyBundleOnChain(
  chain: AnchorChain,
  value: unknown,
  finality: number | FinalityRule,
): Promise<ChainVerdict> {
  const pure = verifyBundle(value);
  if (!pure.valid) return pure;
  const { bundle } = pure;
  if (bundle.anchor.chainId !== chain.chainId) {
    return fail(
      'chain_id_mismatch',
      `bundle names chain ${bundle.anchor.chainId}, the RPC serves chain ${chain.chainId}`,
    );
  }
  if (bundle.anchor.contract.toLowerCase() !== chain.contract.toLowerCase()) {
    return fail(
      'contract_mismatch',
      `bundle names contract ${bundle.anchor.contract}, not ${chain.contract}`,
    );
  }
  const onChain = await chain.rootOf(bundle.batchId!);
  if (onChain !== bundle.root) {
    return fail(
      'root_not_on_chain',
      `batch ${bundle.batchId} root on chain is ${onChain}, bundle says ${bundle.root}`,
    );
  }
  // Depth comes from the BatchAnchored event, not the bundle's txHash: a replayed development chain
  // (or a re-anchor after a reorg) may hold the same root in another transaction.
  const event = await chain.findAnchor(bundle.batchId!, bundle.anchor.blockNumber ?? undefined);
  if (!event) return fail('root_not_on_chain', `no BatchAnchored event for batch ${bundle.batchId}`);
  const confirmations = (await chain.headNumber()) - event.blockNumber + 1;
  const rule: FinalityRule = typeof finality === 'number' ? { kind: 'depth', blocks: finality } : finality;
  if (rule.kind === 'depth' && confirmations < rule.blocks) {
    return fail('not_final', `anchored ${confirmations} block(s) deep; ${rule.blocks} required`);
  }
  if (rule.kind === 'tag') {
    const mark = await chain.taggedBlock(rule.tag);
    if (mark === null || mark < event.blockNumber) {
      return fail(
        'not_final',
        `anchored in block ${event.blockNumber}; the node's ${rule.tag} block is ${mark ?? 'not there yet'}`,
      );
    }
  }
  return { valid: true, bundle, confirmations, blockNumber: event.blockNumber };
}

/**
 * How many blocks deep an anchor must be to be final now: the rule's depth, or for a tag how deep
 * the node's tagged block is (the head's depth plus one when it has none yet).
 */
export async function confirmationsNeeded(chain: AnchorChain, finality: FinalityRule): Promise<number> {
  if (finality.kind === 'depth') return finality.blocks;
  const [head, mark] = await Promise.all([chain.headNumber(), chain.taggedBlock(finality.tag)]);
  return head - (mark ?? -1) + 1;
}

function fail(failure: ChainFailure, reason: string): ChainVerdict {
  return { valid: false, failure, reason };
}
