/**
 * The second half of verifying a bundle: the pure checks (src/core/verify.ts), then the chain named
 * in the bundle: same chain id, the root anchored under the batch id, and enough confirmations.
 *
 * At most MAX_RPC_CALLS_PER_BUNDLE calls, whatever the bundle claims. The contract's root is the
 * authority; the bundle's blockNumber is only a hint, checked in one eth_getLogs over that one block
 * (the batch id is an indexed topic), never the start of a scan. If the hint is wrong (forged, or
 * stale after a reorg moved the anchor), the anchor is looked for once in the last LOG_WINDOW_BLOCKS
 * blocks. Found, its block gives the exact depth. Not found, `rootOf` read with eth_call as of block
 * head - n + 1 proves n confirmations (the state there already holds the root), and n is what is
 * reported: a lower bound, with no block number.
 */
import { verifyBundle, type BundleFailure, type Hex, type ProofBundleV1 } from '../core/index.ts';
import { LOG_WINDOW_BLOCKS, type AnchorChain, type AnchorEvent } from './registry.ts';

export type ChainFailure = 'chain_id_mismatch' | 'contract_mismatch' | 'root_not_on_chain' | 'not_final';

export type ChainVerdict =
  | {
      valid: true;
      bundle: ProofBundleV1;
      /** How deep the anchor is; when blockNumber is null, the confirmations asked for (a lower bound). */
      confirmations: number;
      /** The block holding the anchor; null when it is in neither the hinted block nor the latest ones. */
      blockNumber: number | null;
    }
  | { valid: false; failure: BundleFailure | ChainFailure; reason: string };

/** The most JSON-RPC calls one bundle's chain step makes (eth_blockNumber, eth_call ×2, eth_getLogs ×2). */
export const MAX_RPC_CALLS_PER_BUNDLE = 5;

/** What verifying a bundle reads from the chain. */
export type BundleChain = Pick<AnchorChain, 'chainId' | 'contract' | 'headNumber' | 'rootOf' | 'anchorIn'>;

export async function verifyBundleOnChain(
  chain: BundleChain,
  value: unknown,
  minConfirmations: number,
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
  const batchId = bundle.batchId!;
  const root = bundle.root!;
  // Every read as of one head, so a block mined meanwhile cannot make the answers disagree.
  const head = await chain.headNumber();
  const onChain = await chain.rootOf(batchId, head);
  if (onChain !== root) {
    return fail('root_not_on_chain', `batch ${batchId} root on chain is ${onChain}, bundle says ${root}`);
  }
  // Depth comes from the BatchAnchored event, not the bundle's txHash: a replayed development chain
  // (or a re-anchor after a reorg) may hold the same root in another transaction.
  const event = await locateAnchor(chain, batchId, root, bundle.anchor.blockNumber, head);
  if (event) {
    const confirmations = head - event.blockNumber + 1;
    if (confirmations < minConfirmations) {
      return fail('not_final', `anchored ${confirmations} block(s) deep; ${minConfirmations} required`);
    }
    return { valid: true, bundle, confirmations, blockNumber: event.blockNumber };
  }
  // Not in the hinted block nor among the latest ones: older, or the RPC's nodes disagree. The state
  // as of block head - n + 1 holding the root proves n confirmations either way.
  const proofBlock = head - minConfirmations + 1;
  if (proofBlock < 0 || (proofBlock < head && (await chain.rootOf(batchId, proofBlock)) !== root)) {
    return fail('not_final', `anchored fewer than ${minConfirmations} blocks deep`);
  }
  return { valid: true, bundle, confirmations: minConfirmations, blockNumber: null };
}

/**
 * The anchor of `batchId` with `root`: in block `hint` if it is there (one call), else in the last
 * LOG_WINDOW_BLOCKS blocks up to `head` (one more); null if in neither.
 */
async function locateAnchor(
  chain: BundleChain,
  batchId: number,
  root: Hex,
  hint: number | null,
  head: number,
): Promise<AnchorEvent | null> {
  if (hint !== null && hint <= head) {
    const atHint = await chain.anchorIn(batchId, hint, hint);
    if (atHint?.root === root) return atHint;
  }
  const recent = await chain.anchorIn(batchId, Math.max(0, head - LOG_WINDOW_BLOCKS + 1), head);
  return recent?.root === root ? recent : null;
}

function fail(failure: ChainFailure, reason: string): ChainVerdict {
  return { valid: false, failure, reason };
}
