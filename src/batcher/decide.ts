/**
 * The anchorer's decisions, without I/O: from a batch row and what has been read from the chain so
 * far, the next thing to do. That is either one more observation (the shell reads it and asks
 * again) or an action (the shell performs it and saves the batch's new state). A pass therefore
 * costs only the RPC calls its decision needs, and every outcome is one row of
 * test/batcher/decide.test.ts.
 *
 * The batch's life: sealed -> submitted (its signed anchor transaction saved, then sent) -> anchored
 * (mined) -> final (deep enough, and the root read back from the contract is ours). A reorg sends an
 * anchored or final batch back to submitted; a transaction that can no longer be mined sends it back
 * to sealed, to be signed again. The contract takes batch ids in order, once each: the last guard.
 */
import { Transaction } from 'ethers';
import type { AnchorEvent, BroadcastOutcome, TxReceipt } from '../chain/registry.ts';
import type { Hex } from '../core/index.ts';
import type { BatchRow } from '../storage/rows.ts';

/**
 * How sending a signed transaction went: the node's answer as the chain client classified it, or
 * 'transport-error' when there was no answer it could read (nothing is known about the transaction).
 */
export type BroadcastResult = BroadcastOutcome['kind'] | 'transport-error';

/** Whether the node holds the transaction after a send: it took it now, or it had it already. */
export function nodeHolds(result: BroadcastResult): result is 'sent' | 'already-known' {
  return result === 'sent' || result === 'already-known';
}

/**
 * What has been read from the chain for one batch in this pass; absent means not read yet, null
 * means read and not there.
 */
export interface Observed {
  /** The contract's next expected batch id: every lower id is anchored. */
  nextBatchId?: number;
  /** The receipt of the batch's saved transaction (tx_hash). */
  receipt?: TxReceipt | null;
  /**
   * The saved transaction (raw_tx) sent again. Sending a signed transaction again is idempotent
   * (its hash is fixed), so this is a question to the node as much as an act: do you hold it, can
   * it still be mined?
   */
  rebroadcast?: BroadcastResult;
  /** The anchorer account's next nonce as the node's pool sees it. */
  pendingNonce?: number;
  /** The latest block's base fee; null on a chain without one. */
  baseFee?: bigint | null;
  /** The canonical chain's hash at the batch's block_number; null past the head. */
  blockHash?: Hex | null;
  /** The latest block number. */
  head?: number;
  /** The root the contract holds for the batch's id. */
  chainRoot?: Hex;
  /** The contract's BatchAnchored event for the batch's id, whoever sent it. */
  anchorEvent?: AnchorEvent | null;
}

export type Observation = keyof Observed;

/**
 * When an anchored batch is final. Today a depth: the anchoring block and `blocks - 1` more on top
 * of it (CONFIRMATIONS). A node's `safe`/`finalized` tag would be another kind of rule here, read
 * through an observation of its own.
 */
export type FinalityRule = { kind: 'depth'; blocks: number };

/** The settings a decision depends on, as data. */
export interface AnchorPolicy {
  finality: FinalityRule;
}

/** Why nothing is done for the batch now. */
export type WaitReason =
  /** The contract's next id is below ours: a lower batch has to be anchored first. */
  | 'earlier-batch-not-on-chain'
  /** The node holds our transaction, at a nonce that can run and with fees the base fee allows. */
  | 'not-mined-yet'
  /** Mined, not yet deep enough for the finality rule. */
  | 'confirming'
  /** A final batch whose block is still on the canonical chain. */
  | 'final-block-canonical';

export type Action =
  /** Sign an anchor transaction at the account's next nonce, save it (submitted), then send it. */
  | { act: 'send' }
  /** Our saved transaction was mined: save the batch anchored in the receipt's block. */
  | { act: 'mark-anchored'; receipt: TxReceipt }
  /**
   * The contract already holds our root under our id (our own send before a crash, a racing
   * instance's, an earlier transaction of ours): save the batch anchored where the event says.
   */
  | { act: 'adopt'; anchor: AnchorEvent }
  /**
   * The saved transaction will never anchor the batch: back to sealed, to be signed afresh. Should
   * the old one be mined after all, the contract's id ordering makes it revert.
   */
  | { act: 'sign-again'; why: 'reverted' | 'rebroadcast-refused' | 'adopted-then-reorged' }
  | { act: 'sign-again'; why: 'nonce-gap'; nonce: number; pendingNonce: number }
  /**
   * The base fee rose above the saved transaction's max fee: sign the same transaction at the same
   * nonce with fees that pay `baseFee`, save it in place of the old one, and send it. Whichever of
   * the two is mined anchors the batch; they share a nonce, so not both.
   */
  | { act: 'replace'; baseFee: bigint }
  /** The anchoring block left the canonical chain: back to submitted (the transaction is kept). */
  | { act: 'unanchor'; why: 'reorg' | 'deep-reorg' }
  /** Deep enough, and the contract holds our root: save the batch final. */
  | { act: 'finalize'; chainRoot: Hex }
  /** Nothing to do now; the next pass looks again. */
  | { act: 'wait'; why: WaitReason }
  /** The contract holds another root for our id: stop anchoring, overwrite nothing. */
  | { act: 'halt'; conflict: string }
  /**
   * Sending the saved transaction again failed without a word about the transaction (or for want
   * of funds): keep it, and fail the step so the loop backs off and sends it again later.
   */
  | { act: 'fail'; why: 'transport-error' | 'insufficient-funds' };

export type Step = { observe: Observation } | Action;

/** The next step for `batch`, given what has been observed for it so far in this pass. */
export function decide(batch: BatchRow, seen: Observed, policy: AnchorPolicy): Step {
  switch (batch.status) {
    case 'sealed':
      return decideSealed(batch, seen);
    case 'submitted':
      return decideSubmitted(batch, seen);
    case 'anchored':
      return decideAnchored(batch, seen, policy.finality);
    case 'final':
      return decideFinal(batch, seen);
  }
}

/**
 * The batches one pass may advance, in id order: every anchored one, and of those not on chain yet
 * (sealed or submitted) only the lowest. The contract takes ids in order with no gap, so one anchor
 * transaction is in flight at a time: the batch above it is sent once it is mined. `open` is every
 * unfinished batch, in id order.
 */
export function batchesToAdvance(open: readonly BatchRow[]): BatchRow[] {
  const lowestNotOnChain = open.find((b) => b.status === 'sealed' || b.status === 'submitted');
  return open.filter((b) => b.status === 'anchored' || b === lowestNotOnChain);
}

function decideSealed(batch: BatchRow, seen: Observed): Step {
  if (seen.nextBatchId === undefined) return { observe: 'nextBatchId' };
  if (seen.nextBatchId > batch.id) return adoptFromChain(batch, seen);
  if (seen.nextBatchId < batch.id) return { act: 'wait', why: 'earlier-batch-not-on-chain' };
  return { act: 'send' };
}

function decideSubmitted(batch: BatchRow, seen: Observed): Step {
  if (seen.receipt === undefined) return { observe: 'receipt' };
  if (seen.receipt?.status === 'success') return { act: 'mark-anchored', receipt: seen.receipt };
  if (seen.nextBatchId === undefined) return { observe: 'nextBatchId' };
  if (seen.nextBatchId > batch.id) return adoptFromChain(batch, seen);
  if (seen.receipt?.status === 'reverted') return { act: 'sign-again', why: 'reverted' };
  // Adopted from the chain (we never signed it), and that anchor has since been reorged away.
  if (batch.raw_tx === null) return { act: 'sign-again', why: 'adopted-then-reorged' };

  // Not mined: the node may simply not have it (dropped from its pool, a restarted node).
  if (seen.rebroadcast === undefined) return { observe: 'rebroadcast' };
  if (seen.rebroadcast === 'refused-nonce-or-fee') return { act: 'sign-again', why: 'rebroadcast-refused' };
  if (!nodeHolds(seen.rebroadcast)) return { act: 'fail', why: seen.rebroadcast };

  // Held, but can it run? Not behind a gap in the account's nonces, nor below the base fee.
  const sent = Transaction.from(batch.raw_tx);
  if (seen.pendingNonce === undefined) return { observe: 'pendingNonce' };
  if (seen.pendingNonce < sent.nonce) {
    return { act: 'sign-again', why: 'nonce-gap', nonce: sent.nonce, pendingNonce: seen.pendingNonce };
  }
  if (sent.maxFeePerGas === null) return { act: 'wait', why: 'not-mined-yet' };
  if (seen.baseFee === undefined) return { observe: 'baseFee' };
  if (seen.baseFee !== null && sent.maxFeePerGas < seen.baseFee)
    return { act: 'replace', baseFee: seen.baseFee };
  return { act: 'wait', why: 'not-mined-yet' };
}

function decideAnchored(batch: BatchRow, seen: Observed, finality: FinalityRule): Step {
  if (seen.blockHash === undefined) return { observe: 'blockHash' };
  if (seen.blockHash !== batch.block_hash) return { act: 'unanchor', why: 'reorg' };
  const deep = isFinal(finality, batch.block_number!, seen);
  if (typeof deep === 'string') return { observe: deep };
  if (!deep) return { act: 'wait', why: 'confirming' };
  if (seen.chainRoot === undefined) return { observe: 'chainRoot' };
  if (seen.chainRoot !== batch.root) {
    return {
      act: 'halt',
      conflict: `batch ${batch.id}: chain root ${seen.chainRoot} differs from stored ${batch.root}`,
    };
  }
  return { act: 'finalize', chainRoot: seen.chainRoot };
}

/**
 * A final batch, rechecked: final is CONFIRMATIONS deep, which a deeper reorg can still undo. Its
 * block gone from the canonical chain, it goes back to submitted and is anchored again.
 */
function decideFinal(batch: BatchRow, seen: Observed): Step {
  if (seen.blockHash === undefined) return { observe: 'blockHash' };
  if (seen.blockHash !== batch.block_hash) return { act: 'unanchor', why: 'deep-reorg' };
  return { act: 'wait', why: 'final-block-canonical' };
}

/** The contract is past our id: adopt its anchor if the root is ours, else halt. */
function adoptFromChain(batch: BatchRow, seen: Observed): Step {
  if (seen.anchorEvent === undefined) return { observe: 'anchorEvent' };
  const anchor = seen.anchorEvent;
  if (anchor === null || anchor.root !== batch.root) {
    return {
      act: 'halt',
      conflict: `batch ${batch.id} is anchored on chain with root ${anchor?.root ?? 'unknown'}, but the database holds ${batch.root}`,
    };
  }
  return { act: 'adopt', anchor };
}

/** Whether the block `blockNumber` is final under `rule`, or what must be observed to know. */
function isFinal(rule: FinalityRule, blockNumber: number, seen: Observed): boolean | Observation {
  switch (rule.kind) {
    case 'depth':
      if (seen.head === undefined) return 'head';
      return seen.head - blockNumber + 1 >= rule.blocks;
  }
}
