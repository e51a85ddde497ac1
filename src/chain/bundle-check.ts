/**
 * The second half of verifying a bundle: the pure checks (src/core/verify.ts), then the chain named
 * in the bundle: same chain id, the root anchored under the batch id, and final: enough
 * confirmations, or at or below the node's safe/finalized block.
 *
 * At most MAX_RPC_CALLS_PER_BUNDLE calls, whatever the bundle claims. The contract's root is the
 * authority; the bundle's blockNumber is only a hint, checked in one eth_getLogs over that one block
 * (the batch id is an indexed topic), never the start of a scan. Found there, the anchor's block
 * gives the exact depth. Otherwise (a forged hint, or one made stale by a reorg) the chain's state
 * decides: `rootOf` read with eth_call as of the block that must already hold the root (head - n + 1
 * for n confirmations, the node's tagged block for a tag) proves finality, and the depth reported is
 * a lower bound with no block number. Under a depth rule the latest LOG_WINDOW_BLOCKS blocks are
 * looked at once first, so an anchor a reorg moved still gets its exact depth.
 */
import { verifyBundle, type BundleFailure, type Hex, type ProofBundleV1 } from '../core/index.ts';
import type { FinalityRule } from './finality.ts';
import { LOG_WINDOW_BLOCKS, type AnchorChain, type AnchorEvent } from './registry.ts';

export type ChainFailure = 'chain_id_mismatch' | 'contract_mismatch' | 'root_not_on_chain' | 'not_final';

export type ChainVerdict =
  | {
      valid: true;
      bundle: ProofBundleV1;
      /** How deep the anchor is; when blockNumber is null, a lower bound. */
      confirmations: number;
      /** The block holding the anchor; null when it was not found where it was looked for. */
      blockNumber: number | null;
    }
  | { valid: false; failure: BundleFailure | ChainFailure; reason: string };

/**
 * The most JSON-RPC calls one bundle's chain step makes: the head, the root as of it, the hinted
 * block's logs, then the latest blocks' logs and the root as of the proving block (a depth rule), or
 * the tagged block and, if the anchor was not in the hinted one, the root as of it (a tag rule).
 */
export const MAX_RPC_CALLS_PER_BUNDLE = 5;

/** What verifying a bundle reads from the chain. */
export type BundleChain = Pick<
  AnchorChain,
  'chainId' | 'contract' | 'headNumber' | 'rootOf' | 'anchorIn' | 'taggedBlock'
>;

/**
 * Checks `value` as a bundle, then against `chain`. `finality` is a number of confirmations or a
 * rule; the verdict's `confirmations` is the anchor's depth either way.
 */
export async function verifyBundleOnChain(
  chain: BundleChain,
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
  const rule: FinalityRule = typeof finality === 'number' ? { kind: 'depth', blocks: finality } : finality;
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
  const event = await locateAnchor(
    chain,
    batchId,
    root,
    bundle.anchor.blockNumber,
    head,
    rule.kind === 'depth',
  );
  const verdict = event
    ? await finalAt(chain, rule, head, event.blockNumber)
    : await finalByState(chain, rule, head, batchId, root);
  if ('failure' in verdict) return fail('not_final', verdict.failure);
  return {
    valid: true,
    bundle,
    confirmations: verdict.confirmations,
    blockNumber: event?.blockNumber ?? null,
  };
}

/**
 * The anchor of `batchId` with `root`: in block `hint` if it is there (one call), else, when
 * `lookAround`, in the latest LOG_WINDOW_BLOCKS blocks up to `head` (one more); null otherwise.
 */
async function locateAnchor(
  chain: BundleChain,
  batchId: number,
  root: Hex,
  hint: number | null,
  head: number,
  lookAround: boolean,
): Promise<AnchorEvent | null> {
  if (hint !== null && hint <= head) {
    const atHint = await chain.anchorIn(batchId, hint, hint);
    if (atHint?.root === root) return atHint;
  }
  if (!lookAround) return null;
  const recent = await chain.anchorIn(batchId, Math.max(0, head - LOG_WINDOW_BLOCKS + 1), head);
  return recent?.root === root ? recent : null;
}

type Finality = { confirmations: number } | { failure: string };

/** Whether an anchor in block `anchoredIn` is final under `rule`, and its exact depth. */
async function finalAt(
  chain: BundleChain,
  rule: FinalityRule,
  head: number,
  anchoredIn: number,
): Promise<Finality> {
  const confirmations = head - anchoredIn + 1;
  if (rule.kind === 'depth') {
    return confirmations < rule.blocks
      ? { failure: `anchored ${confirmations} block(s) deep; ${rule.blocks} required` }
      : { confirmations };
  }
  const mark = await chain.taggedBlock(rule.tag);
  if (mark === null || mark < anchoredIn) {
    return {
      failure: `anchored in block ${anchoredIn}; the node's ${rule.tag} block is ${mark ?? 'not there yet'}`,
    };
  }
  return { confirmations };
}

/**
 * Whether the root is final under `rule` without knowing its block: the state as of the block that
 * must already hold it (head - n + 1, or the node's tagged block) does. The depth is a lower bound.
 */
async function finalByState(
  chain: BundleChain,
  rule: FinalityRule,
  head: number,
  batchId: number,
  root: Hex,
): Promise<Finality> {
  const proving = rule.kind === 'depth' ? head - rule.blocks + 1 : await chain.taggedBlock(rule.tag);
  const required =
    rule.kind === 'depth' ? `${rule.blocks} blocks deep` : `at or below the node's ${rule.tag} block`;
  if (proving === null || proving < 0) return { failure: `not yet ${required}` };
  if (proving < head && (await chain.rootOf(batchId, proving)) !== root) {
    return { failure: `anchored after block ${proving}: not yet ${required}` };
  }
  return { confirmations: head - proving + 1 };
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
