/**
 * The anchorer's decisions, one row per outcome, in the style of Sunlight's TestSequenceErrors: a
 * batch, what the chain answers, and the decision expected. A row also pins which observations the
 * decision asks for and in what order (the keys of `seen`, as written), and that it asks for no
 * other: those are the RPC calls a pass makes. No chain, no database: milliseconds.
 */
import { makeError } from 'ethers';
import { describe, expect, it } from 'vitest';
import {
  batchesToAdvance,
  decide,
  type Action,
  type BroadcastResult,
  type InFlight,
  type Observation,
  type Observed,
} from '../../src/batcher/decide.ts';
import type { FinalityRule } from '../../src/chain/finality.ts';
import type { AnchorEvent, TxReceipt } from '../../src/chain/registry.ts';
import { classifyRefusal } from '../../src/chain/rpc-provider.ts';
import type { Hex } from '../../src/core/index.ts';
import type { BatchRow, BatchStatus } from '../../src/storage/rows.ts';
import {
  batchRow as batch,
  BLOCK_HASH,
  GWEI,
  OTHER_ROOT,
  REORGED_HASH,
  ROOT,
  SAVED,
  signedRow,
  signedTx,
  THEIRS,
} from './anchor-rows.ts';

const LEGACY = signedTx(7, { gasPrice: 100n * GWEI });

const cost = { gasUsed: 53_928n, gasPrice: GWEI };
const mined: TxReceipt = { status: 'success', blockNumber: 100, blockHash: BLOCK_HASH, ...cost };
const reverted: TxReceipt = { status: 'reverted', blockNumber: 100, blockHash: BLOCK_HASH, ...cost };
const anchorOf = (root: Hex, txHash: Hex = THEIRS): AnchorEvent => ({
  batchId: 5,
  root,
  leafCount: 3,
  txHash,
  blockNumber: 99,
  blockHash: BLOCK_HASH,
});
const conflict = (root: string) =>
  `batch 5 is anchored on chain with root ${root}, but the database holds ${ROOT}`;

/** Not mined, the contract still expects our id: what every "not mined yet" row starts from. */
const unmined = { receipt: null, nextBatchId: 5 } satisfies Observed;
/** ...and the node has it in its pool, at a nonce that can run (ours is 7). */
const held = { ...unmined, whereabouts: 'pending', pendingNonce: 8 } satisfies Observed;
/** ...or the node does not have it, and its nonce (7) is not used by a mined transaction. */
const lost = { ...unmined, whereabouts: null, minedNonce: 7 } satisfies Observed;

const FINALIZED: FinalityRule = { kind: 'tag', tag: 'finalized' };
/** Our anchors in flight below batch 5: batches 3 and 4 at nonces 7 and 8. */
const BELOW: InFlight[] = [
  { batchId: 3, nonce: 7 },
  { batchId: 4, nonce: 8 },
];

interface Row {
  name: string;
  batch: BatchRow;
  /** The chain's answers, in the order the decision asks for them. */
  seen: Observed;
  expect: Action;
  /** CONFIRMATIONS; 3 blocks unless given. */
  finality?: FinalityRule;
  /** Our anchors in flight below the batch; none unless given. */
  below?: InFlight[];
}

const ROWS: Row[] = [
  // sealed: nothing signed yet
  {
    name: 'sealed, the contract expects our id: sign at the pending nonce and send',
    batch: batch('sealed'),
    seen: { nextBatchId: 5, pendingNonce: 7 },
    expect: { act: 'send', nonce: 7 },
  },
  {
    name: 'sealed, an earlier batch is not on chain yet: wait',
    batch: batch('sealed'),
    seen: { nextBatchId: 4 },
    expect: { act: 'wait', why: 'earlier-batch-not-on-chain' },
  },
  {
    name: 'sealed, the contract is past our id with our root (sent before a crash): adopt',
    batch: batch('sealed'),
    seen: { nextBatchId: 6, anchorEvent: anchorOf(ROOT) },
    expect: { act: 'adopt', anchor: anchorOf(ROOT) },
  },
  {
    name: 'sealed, the contract is past our id with another root: halt',
    batch: batch('sealed'),
    seen: { nextBatchId: 6, anchorEvent: anchorOf(OTHER_ROOT) },
    expect: { act: 'halt', conflict: conflict(OTHER_ROOT) },
  },
  {
    name: 'sealed, the contract is past our id and no event says with what: halt',
    batch: batch('sealed'),
    seen: { nextBatchId: 6, anchorEvent: null },
    expect: { act: 'halt', conflict: conflict('unknown') },
  },

  // sealed, with anchors of ours in flight below (pipelined)
  {
    name: 'pipelined: every id below ours has an anchor of ours in flight: sent at the next nonce above them',
    batch: batch('sealed'),
    seen: { nextBatchId: 3, pendingNonce: 9 },
    below: BELOW,
    expect: { act: 'send', nonce: 9 },
  },
  {
    name: "pipelined: the node's pool has not caught up with our anchors in flight: sent above them all the same",
    batch: batch('sealed'),
    seen: { nextBatchId: 3, pendingNonce: 7 },
    below: BELOW,
    expect: { act: 'send', nonce: 9 },
  },
  {
    name: 'pipelined: an id between the contract and ours has no anchor in flight: wait',
    batch: batch('sealed'),
    seen: { nextBatchId: 3 },
    below: [{ batchId: 4, nonce: 8 }],
    expect: { act: 'wait', why: 'earlier-batch-not-on-chain' },
  },
  {
    name: 'pipelined: a lower anchor was signed again above another in flight (which will revert): wait for it',
    batch: batch('sealed'),
    seen: { nextBatchId: 3 },
    below: [
      { batchId: 3, nonce: 11 },
      { batchId: 4, nonce: 8 },
    ],
    expect: { act: 'wait', why: 'earlier-anchor-out-of-order' },
  },
  {
    name: 'pipelined: our anchors below were mined since (the contract expects our id): sent at the pending nonce',
    batch: batch('sealed'),
    seen: { nextBatchId: 5, pendingNonce: 9 },
    below: [],
    expect: { act: 'send', nonce: 9 },
  },

  // submitted: our signed transaction is saved
  {
    name: 'mined: anchored where the receipt says',
    batch: batch('submitted'),
    seen: { receipt: mined },
    expect: { act: 'mark-anchored', receipt: mined },
  },
  {
    name: 'reverted: sign again',
    batch: batch('submitted'),
    seen: { receipt: reverted, nextBatchId: 5 },
    expect: { act: 'sign-again', why: 'reverted' },
  },
  {
    name: 'pipelined: reverted because a lower anchor was signed again above it: sign again, after it',
    batch: batch('submitted'),
    seen: { receipt: reverted, nextBatchId: 4 },
    expect: { act: 'sign-again', why: 'reverted' },
  },
  {
    name: 'reverted, but the contract is past our id with our root (another transaction of ours won): adopt',
    batch: batch('submitted'),
    seen: { receipt: reverted, nextBatchId: 6, anchorEvent: anchorOf(ROOT) },
    expect: { act: 'adopt', anchor: anchorOf(ROOT) },
  },
  {
    name: 'not mined, the contract is past our id with our root (a racing instance): adopt',
    batch: batch('submitted'),
    seen: { receipt: null, nextBatchId: 6, anchorEvent: anchorOf(ROOT) },
    expect: { act: 'adopt', anchor: anchorOf(ROOT) },
  },
  {
    name: 'not mined, the contract is past our id with another root: halt',
    batch: batch('submitted'),
    seen: { receipt: null, nextBatchId: 6, anchorEvent: anchorOf(OTHER_ROOT) },
    expect: { act: 'halt', conflict: conflict(OTHER_ROOT) },
  },
  {
    name: 'adopted from the chain, then reorged away (no raw tx of ours): sign afresh',
    batch: batch('submitted', { raw_tx: null, tx_hash: THEIRS }),
    seen: unmined,
    expect: { act: 'sign-again', why: 'adopted-then-reorged' },
  },
  {
    name: 'just sent, the node holds it: never sent again; wait to be mined',
    batch: batch('submitted'),
    seen: { ...held, baseFee: 30n * GWEI },
    expect: { act: 'wait', why: 'not-mined-yet' },
  },
  {
    name: 'pipelined: in flight above another anchor of ours (the contract expects a lower id), held: wait',
    batch: batch('submitted'),
    seen: { receipt: null, nextBatchId: 3, whereabouts: 'pending', pendingNonce: 10, baseFee: 30n * GWEI },
    expect: { act: 'wait', why: 'not-mined-yet' },
  },
  {
    name: 'mined between reading its receipt and asking for it by hash: wait, the receipt is read next pass',
    batch: batch('submitted'),
    seen: { ...unmined, whereabouts: 'mined' },
    expect: { act: 'wait', why: 'just-mined' },
  },
  {
    name: 'dropped from the pool: sent again, the node takes it; wait to be mined',
    batch: batch('submitted'),
    seen: { ...lost, rebroadcast: 'sent', pendingNonce: 8, baseFee: 30n * GWEI },
    expect: { act: 'wait', why: 'not-mined-yet' },
  },
  {
    name: 'crashed after saving, before sending (after-sign), anchors of ours in flight above: sent now; wait',
    batch: batch('submitted'),
    seen: { ...lost, rebroadcast: 'sent', pendingNonce: 11, baseFee: 30n * GWEI },
    expect: { act: 'wait', why: 'not-mined-yet' },
  },
  {
    name: 'not found by hash, yet sent again the node says it has it (another node behind the RPC): wait',
    batch: batch('submitted'),
    seen: { ...lost, rebroadcast: 'already-known', pendingNonce: 8, baseFee: 30n * GWEI },
    expect: { act: 'wait', why: 'not-mined-yet' },
  },
  {
    name: 'nonce taken by another holder of the key: its nonce is mined, ours is not: sign again',
    batch: batch('submitted'),
    seen: { ...unmined, whereabouts: null, minedNonce: 8 },
    expect: { act: 'sign-again', why: 'nonce-taken', nonce: 7, minedNonce: 8 },
  },
  {
    name: 'sent again, the node says its nonce is used though it was not a moment earlier: decide next pass',
    batch: batch('submitted'),
    seen: { ...lost, rebroadcast: 'nonce-used' },
    expect: { act: 'wait', why: 'nonce-used-meanwhile' },
  },
  {
    name: "underpriced: sent again, its fees are refused (below the base fee or the node's minimum): sign again",
    batch: batch('submitted'),
    seen: { ...lost, rebroadcast: 'fee-too-low' },
    expect: { act: 'sign-again', why: 'fees-refused' },
  },
  {
    name: 'the rebroadcast gets no answer (RPC down): keep the saved transaction, fail the step',
    batch: batch('submitted'),
    seen: { ...lost, rebroadcast: 'transport-error' },
    expect: { act: 'fail', why: 'transport-error' },
  },
  {
    name: 'the rebroadcast is refused for want of funds: keep the saved transaction, fail the step',
    batch: batch('submitted'),
    seen: { ...lost, rebroadcast: 'insufficient-funds' },
    expect: { act: 'fail', why: 'insufficient-funds' },
  },
  {
    name: 'waiting behind a nonce gap: sign again at the free nonce',
    batch: batch('submitted'),
    seen: { ...unmined, whereabouts: 'pending', pendingNonce: 6 },
    expect: { act: 'sign-again', why: 'nonce-gap', nonce: 7, pendingNonce: 6 },
  },
  {
    name: 'pipelined: the gap in front of ours is our own anchor below, lost by the node (a reorg): no gap; wait',
    batch: batch('submitted'),
    seen: { ...unmined, whereabouts: 'pending', pendingNonce: 5, baseFee: 30n * GWEI },
    below: [
      { batchId: 3, nonce: 5 },
      { batchId: 4, nonce: 6 },
    ],
    expect: { act: 'wait', why: 'not-mined-yet' },
  },
  {
    name: 'pipelined: a gap in front of ours that no anchor of ours below fills: sign again at the free nonce',
    batch: batch('submitted'),
    seen: { ...unmined, whereabouts: 'pending', pendingNonce: 5 },
    below: [{ batchId: 4, nonce: 6 }],
    expect: { act: 'sign-again', why: 'nonce-gap', nonce: 7, pendingNonce: 5 },
  },
  {
    name: 'pipelined: a gap in front of ours while a batch below has no anchor in flight (sent back to be signed again): it fills the gap when signed; wait',
    batch: batch('submitted'),
    seen: { receipt: null, nextBatchId: 4, whereabouts: 'pending', pendingNonce: 6 },
    expect: { act: 'wait', why: 'earlier-batch-not-on-chain' },
  },
  {
    name: 'the pending nonce is above ours (later transactions queued after it): no gap; wait',
    batch: batch('submitted'),
    seen: { ...held, pendingNonce: 9, baseFee: 30n * GWEI },
    expect: { act: 'wait', why: 'not-mined-yet' },
  },
  {
    name: 'replaced/underpriced: the base fee rose above its max fee; replace it at the same nonce',
    batch: batch('submitted'),
    seen: { ...held, baseFee: 101n * GWEI },
    expect: { act: 'replace', baseFee: 101n * GWEI },
  },
  {
    name: 'the base fee equals its max fee: it can still be mined; wait',
    batch: batch('submitted'),
    seen: { ...held, baseFee: 100n * GWEI },
    expect: { act: 'wait', why: 'not-mined-yet' },
  },
  {
    name: 'a chain without a base fee: nothing to replace; wait',
    batch: batch('submitted'),
    seen: { ...held, baseFee: null },
    expect: { act: 'wait', why: 'not-mined-yet' },
  },
  {
    name: 'a legacy transaction (no max fee): the base fee is not even read; wait',
    batch: batch('submitted', { raw_tx: LEGACY.rawTx, tx_hash: LEGACY.txHash }),
    seen: held,
    expect: { act: 'wait', why: 'not-mined-yet' },
  },
  {
    name: 'reorged back to submitted, the node put it back in its pool: not sent again; wait',
    batch: batch('submitted', { raw_tx: SAVED.rawTx, tx_hash: SAVED.txHash }),
    seen: { ...held, baseFee: 30n * GWEI },
    expect: { act: 'wait', why: 'not-mined-yet' },
  },

  // anchored: mined in block 100
  {
    name: 'reorged before final (the anchor block left the chain): unanchor',
    batch: batch('anchored'),
    seen: { blockHash: REORGED_HASH },
    expect: { act: 'unanchor', why: 'reorg' },
  },
  {
    name: 'reorged onto a shorter chain (no block at that height): unanchor',
    batch: batch('anchored'),
    seen: { blockHash: null },
    expect: { act: 'unanchor', why: 'reorg' },
  },
  {
    name: 'not enough confirmations (2 of 3): wait',
    batch: batch('anchored'),
    seen: { blockHash: BLOCK_HASH, head: 101 },
    expect: { act: 'wait', why: 'confirming' },
  },
  {
    name: 'three deep and the contract holds our root: final',
    batch: batch('anchored'),
    seen: { blockHash: BLOCK_HASH, head: 102, chainRoot: ROOT },
    expect: { act: 'finalize', chainRoot: ROOT },
  },
  {
    name: 'CONFIRMATIONS=1: final in the block that mined it',
    batch: batch('anchored'),
    seen: { blockHash: BLOCK_HASH, head: 100, chainRoot: ROOT },
    expect: { act: 'finalize', chainRoot: ROOT },
    finality: { kind: 'depth', blocks: 1 },
  },
  {
    name: 'conflicting root on chain once deep enough: halt',
    batch: batch('anchored'),
    seen: { blockHash: BLOCK_HASH, head: 102, chainRoot: OTHER_ROOT },
    expect: { act: 'halt', conflict: `batch 5: chain root ${OTHER_ROOT} differs from stored ${ROOT}` },
  },
  {
    name: "CONFIRMATIONS=finalized: the node's finalized block is below ours: wait, however deep",
    batch: batch('anchored'),
    seen: { blockHash: BLOCK_HASH, taggedBlock: 99 },
    expect: { act: 'wait', why: 'confirming' },
    finality: FINALIZED,
  },
  {
    name: "CONFIRMATIONS=finalized: the node's finalized block is ours: final",
    batch: batch('anchored'),
    seen: { blockHash: BLOCK_HASH, taggedBlock: 100, chainRoot: ROOT },
    expect: { act: 'finalize', chainRoot: ROOT },
    finality: FINALIZED,
  },
  {
    name: 'CONFIRMATIONS=finalized: the node has no finalized block yet: wait',
    batch: batch('anchored'),
    seen: { blockHash: BLOCK_HASH, taggedBlock: null },
    expect: { act: 'wait', why: 'confirming' },
    finality: FINALIZED,
  },
  {
    name: "CONFIRMATIONS=safe: the node's safe block is above ours: final",
    batch: batch('anchored'),
    seen: { blockHash: BLOCK_HASH, taggedBlock: 150, chainRoot: ROOT },
    expect: { act: 'finalize', chainRoot: ROOT },
    finality: { kind: 'tag', tag: 'safe' },
  },
  {
    name: 'CONFIRMATIONS=finalized: reorged before the finalized block reached it: unanchor, the tag not even read',
    batch: batch('anchored'),
    seen: { blockHash: REORGED_HASH },
    expect: { act: 'unanchor', why: 'reorg' },
    finality: FINALIZED,
  },

  // final, rechecked on every pass
  {
    name: 'final, its block still canonical: stays final',
    batch: batch('final'),
    seen: { blockHash: BLOCK_HASH },
    expect: { act: 'wait', why: 'final-block-canonical' },
  },
  {
    name: 'final, its block reorged away (deeper than CONFIRMATIONS): demote to submitted',
    batch: batch('final'),
    seen: { blockHash: REORGED_HASH },
    expect: { act: 'unanchor', why: 'deep-reorg' },
  },
];

/**
 * Runs one decision to its end, answering each observation from `answers`; fails on a question the
 * row does not answer or one asked twice. Inputs are frozen: a decision changes nothing it is given.
 */
function run(row: Pick<Row, 'batch' | 'finality' | 'below'>, answers: Observed) {
  const policy = { finality: row.finality ?? { kind: 'depth', blocks: 3 } };
  const batch = Object.freeze({ ...row.batch });
  const below = Object.freeze([...(row.below ?? [])]);
  const seen: Observed = {};
  const asked: Observation[] = [];
  for (;;) {
    const step = decide(batch, Object.freeze({ ...seen }), policy, below);
    if (!('observe' in step)) return { asked, action: step };
    const what = step.observe;
    if (!(what in answers)) throw new Error(`asked for ${what}, which the row does not answer`);
    if (asked.includes(what)) throw new Error(`asked for ${what} twice`);
    asked.push(what);
    Object.assign(seen, { [what]: answers[what] });
  }
}

describe('decide: one row per outcome', () => {
  it.each(ROWS)('$name', (row) => {
    const { asked, action } = run(row, row.seen);
    expect(action).toEqual(row.expect);
    expect(asked).toEqual(Object.keys(row.seen));
  });

  it('every kind of action appears in the table', () => {
    const acts = new Set(ROWS.map((r) => r.expect.act));
    const all: Array<Action['act']> = [
      'send',
      'mark-anchored',
      'adopt',
      'sign-again',
      'replace',
      'unanchor',
      'finalize',
      'wait',
      'halt',
      'fail',
    ];
    expect([...acts].sort()).toEqual([...all].sort());
  });
});

/**
 * What a node's answer to a rebroadcast means for the batch: its words, classified by the chain
 * client (src/chain/rpc-provider.ts), decide what happens, and only where the chain's state could
 * not (the transaction was neither mined nor held, and its nonce was free a moment before). Each
 * node's real wording, for the same four situations: a duplicate, a used nonce, fees too low, no
 * funds. A wording no rule recognises says nothing about the transaction, like no answer at all. A
 * node's new wording is a row here and a line in rpc-provider.ts's table.
 */
describe('decide: what each node says to a rebroadcast', () => {
  const rpcError = (code: number, message: string) =>
    new Error(`RPC error ${code} on eth_sendRawTransaction: ${message}`);
  const AS_SENT: Action = { act: 'wait', why: 'not-mined-yet' };
  const RECHECK: Action = { act: 'wait', why: 'nonce-used-meanwhile' };
  const RESIGN: Action = { act: 'sign-again', why: 'fees-refused' };
  const BROKE: Action = { act: 'fail', why: 'insufficient-funds' };
  const UNKNOWN: Action = { act: 'fail', why: 'transport-error' };
  const hash = SAVED.txHash;
  const WORDINGS: Array<{ node: string; error: Error; result: BroadcastResult; expect: Action }> = [
    // A duplicate: the node holds it already, which is what sending was for.
    {
      node: 'geth, reth: already known',
      error: rpcError(-32000, 'already known'),
      result: 'already-known',
      expect: AS_SENT,
    },
    {
      node: 'anvil: transaction already imported',
      error: rpcError(-32003, 'transaction already imported'),
      result: 'already-known',
      expect: AS_SENT,
    },
    {
      node: 'Besu: Known transaction',
      error: rpcError(-32000, 'Known transaction'),
      result: 'already-known',
      expect: AS_SENT,
    },
    {
      node: 'Hardhat: Known transaction: <hash>',
      error: rpcError(-32000, `Known transaction: ${hash}`),
      result: 'already-known',
      expect: AS_SENT,
    },
    {
      node: 'erigon: existing txn with same hash',
      error: rpcError(-32000, 'existing txn with same hash'),
      result: 'already-known',
      expect: AS_SENT,
    },
    {
      node: 'erigon (older): INTERNAL_ERROR: existing tx with same hash',
      error: rpcError(-32000, 'INTERNAL_ERROR: existing tx with same hash'),
      result: 'already-known',
      expect: AS_SENT,
    },
    {
      node: 'Nethermind (older): AlreadyKnown',
      error: rpcError(-32010, 'AlreadyKnown'),
      result: 'already-known',
      expect: AS_SENT,
    },
    {
      node: 'OpenEthereum, Arbitrum Classic: Transaction with the same hash was already imported.',
      error: rpcError(-32010, 'Transaction with the same hash was already imported.'),
      result: 'already-known',
      expect: AS_SENT,
    },
    // The nonce is used: read again from the chain next pass.
    {
      node: 'geth, reth, erigon, anvil: nonce too low',
      error: rpcError(-32003, 'nonce too low'),
      result: 'nonce-used',
      expect: RECHECK,
    },
    {
      node: 'geth through ethers: NONCE_EXPIRED',
      error: makeError('nonce has already been used', 'NONCE_EXPIRED'),
      result: 'nonce-used',
      expect: RECHECK,
    },
    {
      node: 'Besu: Nonce too low',
      error: rpcError(-32001, 'Nonce too low'),
      result: 'nonce-used',
      expect: RECHECK,
    },
    {
      node: 'Hardhat: Transaction nonce too low. Expected nonce to be at least 8 but got 7.',
      error: rpcError(-32000, 'Transaction nonce too low. Expected nonce to be at least 8 but got 7.'),
      result: 'nonce-used',
      expect: RECHECK,
    },
    {
      node: 'Hardhat (older): Nonce too low. Expected nonce to be 8 but got 7.',
      error: rpcError(-32000, 'Nonce too low. Expected nonce to be 8 but got 7.'),
      result: 'nonce-used',
      expect: RECHECK,
    },
    {
      node: 'Nethermind: OldNonce',
      error: rpcError(-32010, 'OldNonce, Current nonce: 8, nonce of rejected tx: 7'),
      result: 'nonce-used',
      expect: RECHECK,
    },
    {
      node: 'Arbitrum: invalid transaction nonce',
      error: rpcError(-32000, 'invalid transaction nonce'),
      result: 'nonce-used',
      expect: RECHECK,
    },
    {
      node: 'OpenEthereum: Transaction nonce is too low',
      error: rpcError(-32010, 'Transaction nonce is too low. Try incrementing the nonce.'),
      result: 'nonce-used',
      expect: RECHECK,
    },
    // The fees do not get it in: signed again with fresh fees.
    {
      node: 'geth, anvil: replacement transaction underpriced',
      error: rpcError(-32003, 'replacement transaction underpriced'),
      result: 'fee-too-low',
      expect: RESIGN,
    },
    {
      node: 'geth through ethers: REPLACEMENT_UNDERPRICED',
      error: makeError('replacement fee too low', 'REPLACEMENT_UNDERPRICED'),
      result: 'fee-too-low',
      expect: RESIGN,
    },
    {
      node: 'geth: transaction underpriced',
      error: rpcError(-32000, 'transaction underpriced'),
      result: 'fee-too-low',
      expect: RESIGN,
    },
    {
      node: 'Besu: Replacement transaction underpriced',
      error: rpcError(-32000, 'Replacement transaction underpriced'),
      result: 'fee-too-low',
      expect: RESIGN,
    },
    {
      node: 'Hardhat: Replacement transaction underpriced. A gasPrice/maxFeePerGas of at least …',
      error: rpcError(
        -32000,
        'Replacement transaction underpriced. A gasPrice/maxFeePerGas of at least 11000000000 is necessary to replace the existing transaction with nonce 7.',
      ),
      result: 'fee-too-low',
      expect: RESIGN,
    },
    {
      node: 'Nethermind: FeeTooLow',
      error: rpcError(
        -32010,
        'FeeTooLow, MaxFeePerGas too low. MaxFeePerGas: 1, BaseFee: 7, MaxPriorityFeePerGas:1, Block number: 100',
      ),
      result: 'fee-too-low',
      expect: RESIGN,
    },
    {
      node: 'Nethermind: FeeTooLowToCompete',
      error: rpcError(-32010, 'FeeTooLowToCompete'),
      result: 'fee-too-low',
      expect: RESIGN,
    },
    {
      node: 'erigon: transaction gas price below minimum',
      error: rpcError(-32000, 'transaction gas price below minimum'),
      result: 'fee-too-low',
      expect: RESIGN,
    },
    {
      node: 'Besu: Gas price below configured minimum gas price',
      error: rpcError(-32009, 'Gas price below configured minimum gas price'),
      result: 'fee-too-low',
      expect: RESIGN,
    },
    {
      node: 'geth, anvil, Arbitrum: max fee per gas less than block base fee',
      error: rpcError(-32003, 'max fee per gas less than block base fee'),
      result: 'fee-too-low',
      expect: RESIGN,
    },
    {
      node: "OpenEthereum: Transaction gas price is too low. It does not satisfy your node's minimal gas price",
      error: rpcError(
        -32010,
        "Transaction gas price is too low. It does not satisfy your node's minimal gas price (minimal: 2, got: 1). Try increasing it.",
      ),
      result: 'fee-too-low',
      expect: RESIGN,
    },
    // No funds: the step fails; the operator funds the account.
    {
      node: 'geth, reth, erigon: insufficient funds for gas * price + value',
      error: rpcError(-32000, 'insufficient funds for gas * price + value'),
      result: 'insufficient-funds',
      expect: BROKE,
    },
    {
      node: 'geth through ethers: INSUFFICIENT_FUNDS',
      error: makeError('insufficient funds for intrinsic transaction cost', 'INSUFFICIENT_FUNDS'),
      result: 'insufficient-funds',
      expect: BROKE,
    },
    {
      node: 'anvil: Insufficient funds for gas * price + value',
      error: rpcError(-32003, 'Insufficient funds for gas * price + value'),
      result: 'insufficient-funds',
      expect: BROKE,
    },
    {
      node: "Hardhat: Sender doesn't have enough funds to send tx",
      error: rpcError(
        -32000,
        "Sender doesn't have enough funds to send tx. The max upfront cost is: 1 and the sender's balance is: 0.",
      ),
      result: 'insufficient-funds',
      expect: BROKE,
    },
    {
      node: 'Besu: Upfront cost exceeds account balance',
      error: rpcError(-32004, 'Upfront cost exceeds account balance'),
      result: 'insufficient-funds',
      expect: BROKE,
    },
    {
      node: 'Nethermind: InsufficientFunds',
      error: rpcError(-32010, 'InsufficientFunds, Account balance: 0, cumulative cost: 5392800000000000'),
      result: 'insufficient-funds',
      expect: BROKE,
    },
    {
      node: 'OpenEthereum: Insufficient funds',
      error: rpcError(
        -32010,
        'Insufficient funds. The account you tried to send transaction from does not have enough funds. Required 1 and got: 0.',
      ),
      result: 'insufficient-funds',
      expect: BROKE,
    },
    {
      node: 'Arbitrum: not enough funds for gas',
      error: rpcError(-32000, 'not enough funds for gas'),
      result: 'insufficient-funds',
      expect: BROKE,
    },
    // Nothing about the transaction.
    {
      node: 'no answer: the RPC unreachable',
      error: new Error('RPC unreachable: connect ECONNREFUSED 127.0.0.1:8545'),
      result: 'transport-error',
      expect: UNKNOWN,
    },
    {
      node: 'an answer in words nobody listed',
      error: rpcError(-32000, 'the moon is in the wrong phase'),
      result: 'transport-error',
      expect: UNKNOWN,
    },
    {
      node: 'not a duplicate: unknown transaction type',
      error: rpcError(-32000, 'Unknown transaction type'),
      result: 'transport-error',
      expect: UNKNOWN,
    },
  ];

  it.each(WORDINGS)('$node', ({ error, result, expect: action }) => {
    const classified = classifyRefusal(error) ?? 'transport-error';
    expect(classified).toBe(result);
    const answers: Observed = { ...lost, rebroadcast: classified, pendingNonce: 8, baseFee: 30n * GWEI };
    expect(run({ batch: batch('submitted') }, answers).action).toEqual(action);
  });
});

describe('batchesToAdvance: which batches a pass may move, MAX_IN_FLIGHT anchors at most in flight', () => {
  const at = (id: number, status: BatchStatus, nonce = 10 + id) =>
    batch(status, { id, ...(status === 'submitted' && signedRow(nonce)) });
  const ADVANCE: Array<{ name: string; open: BatchRow[]; maxInFlight: number; expect: number[] }> = [
    { name: 'nothing open', open: [], maxInFlight: 8, expect: [] },
    {
      name: 'sealed batches wait their turn behind the lowest',
      open: [at(1, 'sealed'), at(2, 'sealed'), at(3, 'sealed')],
      maxInFlight: 8,
      expect: [1],
    },
    {
      name: 'MAX_IN_FLIGHT=1: a submitted batch holds back the sealed ones after it',
      open: [at(1, 'submitted'), at(2, 'sealed')],
      maxInFlight: 1,
      expect: [1],
    },
    {
      name: 'MAX_IN_FLIGHT=1: anchored batches advance, and so does the lowest not on chain after them',
      open: [at(1, 'anchored'), at(2, 'anchored'), at(3, 'submitted'), at(4, 'sealed')],
      maxInFlight: 1,
      expect: [1, 2, 3],
    },
    {
      name: 'MAX_IN_FLIGHT=1: a batch reorged back to submitted holds back the sealed, not the anchored, after it',
      open: [at(1, 'submitted'), at(2, 'anchored'), at(3, 'sealed')],
      maxInFlight: 1,
      expect: [1, 2],
    },
    {
      name: 'pipelined: the lowest sealed batch is sent while anchors below it are in flight',
      open: [at(1, 'anchored'), at(2, 'submitted'), at(3, 'submitted'), at(4, 'sealed'), at(5, 'sealed')],
      maxInFlight: 8,
      expect: [1, 2, 3, 4],
    },
    {
      name: 'pipelined: the window is full: every anchor in flight is looked at, nothing new is sent',
      open: [at(1, 'submitted'), at(2, 'submitted'), at(3, 'sealed')],
      maxInFlight: 2,
      expect: [1, 2],
    },
    {
      name: 'pipelined: a batch to be signed again below anchors in flight is the one sent',
      open: [at(1, 'sealed'), at(2, 'submitted'), at(3, 'submitted'), at(4, 'sealed')],
      maxInFlight: 8,
      expect: [1, 2, 3],
    },
  ];

  it.each(ADVANCE)('$name', ({ open, maxInFlight, expect: ids }) => {
    expect(batchesToAdvance(open, maxInFlight).map((b) => b.id)).toEqual(ids);
  });
});
