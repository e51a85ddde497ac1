/**
 * The anchorer's decisions, without I/O: from a batch row, the anchors of ours in flight below it,
 * and what has been read from the chain so far, the next thing to do. That is either one more
 * observation (the shell reads it and asks again) or an action (the shell performs it and saves the
 * batch's new state). A pass therefore costs only the RPC calls its decision needs, and every outcome
 * is one row of test/batcher/decide.test.ts.
 *
 * The batch's life: sealed -> submitted (its signed anchor transaction saved, then sent) -> anchored
 * (mined) -> final (at or below the chain's finality mark, and the root read back from the contract
 * is ours). A reorg sends an anchored or final batch back to submitted; a transaction that can no
 * longer be mined sends it back to sealed, to be signed again.
 *
 * Several anchors may be in flight at once (MAX_IN_FLIGHT), at consecutive nonces of the one
 * anchorer account: batch n+1 is signed and sent before n is mined. One account's transactions are
 * mined in nonce order, so anchors signed in id order reach the contract in id order; and the
 * contract takes batch ids in order, once each: the last guard. Decisions come from the chain's
 * state (the receipt, the transaction by hash, the account's nonces, the contract's next id); what a
 * node says when a transaction is sent is read only as a hint, where the state cannot tell.
 */
import { Transaction } from 'ethers';
import type { FinalityRule } from '../chain/finality.ts';
import type { AnchorEvent, BroadcastOutcome, TxReceipt, TxWhereabouts } from '../chain/registry.ts';
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
  /** Where the node has the saved transaction (eth_getTransactionByHash): pool, block, nowhere. */
  whereabouts?: TxWhereabouts;
  /** The anchorer account's nonce at the latest block: every lower nonce is used by a mined transaction. */
  minedNonce?: number;
  /**
   * The saved transaction (raw_tx) sent again, only when the node does not have it (dropped from its
   * pool, a restarted node, never sent before a crash). Sending a signed transaction again is
   * idempotent: its hash is fixed.
   */
  rebroadcast?: BroadcastResult;
  /** The anchorer account's next nonce as the node's pool sees it (runnable transactions only). */
  pendingNonce?: number;
  /** The latest block's base fee; null on a chain without one. */
  baseFee?: bigint | null;
  /** The canonical chain's hash at the batch's block_number; null past the head. */
  blockHash?: Hex | null;
  /** The latest block number. */
  head?: number;
  /** The number of the node's block with the finality rule's tag; null when it has none yet. */
  taggedBlock?: number | null;
  /** The root the contract holds for the batch's id. */
  chainRoot?: Hex;
  /** The contract's BatchAnchored event for the batch's id, whoever sent it. */
  anchorEvent?: AnchorEvent | null;
}

export type Observation = keyof Observed;

/** The settings a decision depends on, as data: when an anchored batch is final (CONFIRMATIONS). */
export interface AnchorPolicy {
  finality: FinalityRule;
}

/** An anchor transaction of ours signed and not yet mined (a submitted batch): its batch and nonce. */
export interface InFlight {
  batchId: number;
  nonce: number;
}

/** Why nothing is done for the batch now. */
export type WaitReason =
  /** An id between the contract's next one and ours has no anchor of ours in flight. */
  | 'earlier-batch-not-on-chain'
  /**
   * An anchor in flight below ours was signed again at a higher nonce: those between will revert,
   * and ours would revert behind them; it is sent once they are signed again, in order.
   */
  | 'earlier-anchor-out-of-order'
  /** The node holds our transaction, at a nonce that can run and with fees the base fee allows. */
  | 'not-mined-yet'
  /** The node has it in a block whose receipt was not there a moment earlier: read it next pass. */
  | 'just-mined'
  /**
   * Sent again, the node says its nonce is used, though it was not a moment earlier: whether by
   * ours or by another transaction, the next pass reads it from the chain.
   */
  | 'nonce-used-meanwhile'
  /** Mined, not yet final under the finality rule. */
  | 'confirming'
  /** A final batch whose block is still on the canonical chain. */
  | 'final-block-canonical';

export type Action =
  /** Sign an anchor transaction at `nonce`, save it (submitted), then send it. */
  | { act: 'send'; nonce: number }
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
  | { act: 'sign-again'; why: 'reverted' | 'fees-refused' | 'adopted-then-reorged' }
  | { act: 'sign-again'; why: 'nonce-taken'; nonce: number; minedNonce: number }
  | { act: 'sign-again'; why: 'nonce-gap'; nonce: number; pendingNonce: number }
  /**
   * The base fee rose above the saved transaction's max fee: sign the same transaction at the same
   * nonce with fees that pay `baseFee`, save it in place of the old one, and send it. Whichever of
   * the two is mined anchors the batch; they share a nonce, so not both.
   */
  | { act: 'replace'; baseFee: bigint }
  /** The anchoring block left the canonical chain: back to submitted (the transaction is kept). */
  | { act: 'unanchor'; why: 'reorg' | 'deep-reorg' }
  /** Final under the rule, and the contract holds our root: save the batch final. */
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

/**
 * The next step for `batch`, given what has been observed for it so far in this pass and our
 * anchors in flight below it (lowest id first).
 */
export function decide(
  batch: BatchRow,
  seen: Observed,
  policy: AnchorPolicy,
  inFlightBelow: readonly InFlight[] = [],
): Step {
  switch (batch.status) {
    case 'sealed':
      return decideSealed(batch, seen, inFlightBelow);
    case 'submitted':
      return decideSubmitted(batch, seen, inFlightBelow);
    case 'anchored':
      return decideAnchored(batch, seen, policy.finality);
    case 'final':
      return decideFinal(batch, seen);
  }
}

/** The nonce a saved transaction was signed at. */
function nonceOf(batch: BatchRow): number | null {
  return batch.raw_tx === null ? null : Transaction.from(batch.raw_tx).nonce;
}

/** Our anchors in flight (submitted batches with a saved transaction of ours) in `open`, lowest id first. */
export function inFlight(open: readonly BatchRow[]): InFlight[] {
  return open.flatMap((b) => {
    const nonce = b.status === 'submitted' ? nonceOf(b) : null;
    return nonce === null ? [] : [{ batchId: b.id, nonce }];
  });
}

/**
 * Whether a pass may advance `batch` now, given every unfinished batch (`open`, in id order) as the
 * pass sees it at that moment: an anchored or submitted batch always; a sealed one only if it is
 * the lowest sealed batch and fewer than `maxInFlight` anchors of ours are in flight. Sealed batches
 * are signed one at a time in id order, so their nonces rise with their ids.
 */
export function mayAdvance(open: readonly BatchRow[], batch: BatchRow, maxInFlight: number): boolean {
  if (batch.status !== 'sealed') return true;
  const lowestSealed = open.find((b) => b.status === 'sealed');
  return batch === lowestSealed && inFlight(open).length < maxInFlight;
}

/** The batches a pass over `open` may advance before any of them moves, in id order. */
export function batchesToAdvance(open: readonly BatchRow[], maxInFlight: number): BatchRow[] {
  return open.filter((b) => mayAdvance(open, b, maxInFlight));
}

function decideSealed(batch: BatchRow, seen: Observed, below: readonly InFlight[]): Step {
  if (seen.nextBatchId === undefined) return { observe: 'nextBatchId' };
  if (seen.nextBatchId > batch.id) return adoptFromChain(batch, seen);
  // Every id from the contract's next one up to ours must be on its way, or ours would revert.
  if (!onTheirWay(batch, seen.nextBatchId, below)) return { act: 'wait', why: 'earlier-batch-not-on-chain' };
  for (let i = 1; i < below.length; i++) {
    if (below[i]!.nonce <= below[i - 1]!.nonce) return { act: 'wait', why: 'earlier-anchor-out-of-order' };
  }
  if (seen.pendingNonce === undefined) return { observe: 'pendingNonce' };
  // Above every anchor of ours in flight, even if the node's pool has not caught up with them.
  const highest = below.at(-1)?.nonce ?? -1;
  return { act: 'send', nonce: Math.max(seen.pendingNonce, highest + 1) };
}

function decideSubmitted(batch: BatchRow, seen: Observed, below: readonly InFlight[]): Step {
  if (seen.receipt === undefined) return { observe: 'receipt' };
  if (seen.receipt?.status === 'success') return { act: 'mark-anchored', receipt: seen.receipt };
  if (seen.nextBatchId === undefined) return { observe: 'nextBatchId' };
  if (seen.nextBatchId > batch.id) return adoptFromChain(batch, seen);
  if (seen.receipt?.status === 'reverted') return { act: 'sign-again', why: 'reverted' };
  // Adopted from the chain (we never signed it), and that anchor has since been reorged away.
  if (batch.raw_tx === null) return { act: 'sign-again', why: 'adopted-then-reorged' };

  // Not mined when the receipt was read. Does the node have it? Then it is not sent again.
  if (seen.whereabouts === undefined) return { observe: 'whereabouts' };
  if (seen.whereabouts === 'mined') return { act: 'wait', why: 'just-mined' };
  const sent = Transaction.from(batch.raw_tx);
  if (seen.whereabouts === null) {
    // Neither mined nor held: if a mined transaction used its nonce, it never will be.
    if (seen.minedNonce === undefined) return { observe: 'minedNonce' };
    if (seen.minedNonce > sent.nonce) {
      return { act: 'sign-again', why: 'nonce-taken', nonce: sent.nonce, minedNonce: seen.minedNonce };
    }
    // Dropped from the pool, or never sent: send it again. The node's answer is a hint.
    if (seen.rebroadcast === undefined) return { observe: 'rebroadcast' };
    if (seen.rebroadcast === 'nonce-used') return { act: 'wait', why: 'nonce-used-meanwhile' };
    if (seen.rebroadcast === 'fee-too-low') return { act: 'sign-again', why: 'fees-refused' };
    if (!nodeHolds(seen.rebroadcast)) return { act: 'fail', why: seen.rebroadcast };
  }

  // Held, but can it run? Not behind a gap in the account's nonces, nor below the base fee. Nonces
  // of our own anchors below, which their batches send again if the node lost them, are no gap.
  if (seen.pendingNonce === undefined) return { observe: 'pendingNonce' };
  const ours = new Set(below.map((f) => f.nonce));
  for (let nonce = seen.pendingNonce; nonce < sent.nonce; nonce++) {
    if (ours.has(nonce)) continue;
    // A batch below ours with no anchor in flight (sent back to be signed again) is signed next, at
    // the pool's next nonce: the gap is its to fill. Signing ours again as well would leave the held
    // one to be mined once the gap is filled, and the new one to revert; wait, and look again.
    if (!onTheirWay(batch, seen.nextBatchId, below))
      return { act: 'wait', why: 'earlier-batch-not-on-chain' };
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
  const final = isFinal(finality, batch.block_number!, seen);
  if (typeof final === 'string') return { observe: final };
  if (!final) return { act: 'wait', why: 'confirming' };
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
 * A final batch, rechecked: a depth rule can still be undone by a deeper reorg, and a node's tag by
 * a chain that breaks its own promise. Its block gone from the canonical chain, it goes back to
 * submitted and is anchored again.
 */
function decideFinal(batch: BatchRow, seen: Observed): Step {
  if (seen.blockHash === undefined) return { observe: 'blockHash' };
  if (seen.blockHash !== batch.block_hash) return { act: 'unanchor', why: 'deep-reorg' };
  return { act: 'wait', why: 'final-block-canonical' };
}

/** Whether every id from the contract's next one up to the batch's has an anchor of ours in flight. */
function onTheirWay(batch: BatchRow, nextBatchId: number, below: readonly InFlight[]): boolean {
  const covered = new Set(below.map((f) => f.batchId));
  for (let id = nextBatchId; id < batch.id; id++) if (!covered.has(id)) return false;
  return true;
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

/**
 * Whether the block `blockNumber`, known to be on the canonical chain, is final under `rule`, or
 * what must be observed to know.
 */
function isFinal(rule: FinalityRule, blockNumber: number, seen: Observed): boolean | Observation {
  switch (rule.kind) {
    case 'depth':
      if (seen.head === undefined) return 'head';
      return seen.head - blockNumber + 1 >= rule.blocks;
    case 'tag':
      if (seen.taggedBlock === undefined) return 'taggedBlock';
      return seen.taggedBlock !== null && seen.taggedBlock >= blockNumber;
  }
}
