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
  type Observation,
  type Observed,
} from '../../src/batcher/decide.ts';
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
  signedTx,
  THEIRS,
} from './anchor-rows.ts';

const LEGACY = signedTx(7, { gasPrice: 100n * GWEI });

const mined: TxReceipt = { status: 'success', blockNumber: 100, blockHash: BLOCK_HASH };
const reverted: TxReceipt = { status: 'reverted', blockNumber: 100, blockHash: BLOCK_HASH };
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

/** Not mined, the contract still expects our id: what every "in the pool" row starts from. */
const unmined = { receipt: null, nextBatchId: 5 } satisfies Observed;
/** ...and the node took it again, at a nonce that can run. */
const held = { ...unmined, rebroadcast: 'sent', pendingNonce: 7 } satisfies Observed;

interface Row {
  name: string;
  batch: BatchRow;
  /** The chain's answers, in the order the decision asks for them. */
  seen: Observed;
  expect: Action;
  /** CONFIRMATIONS; 3 unless given. */
  confirmations?: number;
}

const ROWS: Row[] = [
  // sealed: nothing signed yet
  {
    name: 'sealed, the contract expects our id: sign and send',
    batch: batch('sealed'),
    seen: { nextBatchId: 5 },
    expect: { act: 'send' },
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
    name: 'dropped from the pool: sent again, the node takes it; wait to be mined',
    batch: batch('submitted'),
    seen: { ...unmined, rebroadcast: 'sent', pendingNonce: 7, baseFee: 30n * GWEI },
    expect: { act: 'wait', why: 'not-mined-yet' },
  },
  {
    name: 'the node already holds it: as good as sent; wait to be mined',
    batch: batch('submitted'),
    seen: { ...unmined, rebroadcast: 'already-known', pendingNonce: 7, baseFee: 30n * GWEI },
    expect: { act: 'wait', why: 'not-mined-yet' },
  },
  {
    name: 'nonce taken by another holder of the key: the rebroadcast is refused; sign again',
    batch: batch('submitted'),
    seen: { ...unmined, rebroadcast: 'refused-nonce-or-fee' },
    expect: { act: 'sign-again', why: 'rebroadcast-refused' },
  },
  {
    name: 'the rebroadcast gets no answer (RPC down): keep the saved transaction, fail the step',
    batch: batch('submitted'),
    seen: { ...unmined, rebroadcast: 'transport-error' },
    expect: { act: 'fail', why: 'transport-error' },
  },
  {
    name: 'the rebroadcast is refused for want of funds: keep the saved transaction, fail the step',
    batch: batch('submitted'),
    seen: { ...unmined, rebroadcast: 'insufficient-funds' },
    expect: { act: 'fail', why: 'insufficient-funds' },
  },
  {
    name: 'waiting behind a nonce gap: sign again at the free nonce',
    batch: batch('submitted'),
    seen: { ...unmined, rebroadcast: 'sent', pendingNonce: 6 },
    expect: { act: 'sign-again', why: 'nonce-gap', nonce: 7, pendingNonce: 6 },
  },
  {
    name: 'the pending nonce is above ours (later transactions queued after it): no gap; wait',
    batch: batch('submitted'),
    seen: { ...unmined, rebroadcast: 'already-known', pendingNonce: 8, baseFee: 30n * GWEI },
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
    confirmations: 1,
  },
  {
    name: 'conflicting root on chain once deep enough: halt',
    batch: batch('anchored'),
    seen: { blockHash: BLOCK_HASH, head: 102, chainRoot: OTHER_ROOT },
    expect: { act: 'halt', conflict: `batch 5: chain root ${OTHER_ROOT} differs from stored ${ROOT}` },
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
function run(row: Pick<Row, 'batch' | 'confirmations'>, answers: Observed) {
  const policy = { finality: { kind: 'depth', blocks: row.confirmations ?? 3 } } as const;
  const batch = Object.freeze({ ...row.batch });
  const seen: Observed = {};
  const asked: Observation[] = [];
  for (;;) {
    const step = decide(batch, Object.freeze({ ...seen }), policy);
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
 * client (src/chain/rpc-provider.ts), decide what happens. A wording no rule recognises says
 * nothing about the transaction, like no answer at all. A node's new wording is a row here and a
 * line in rpc-provider.ts's table.
 */
describe('decide: what a node says to a rebroadcast', () => {
  const rpcError = (message: string) => new Error(`RPC error -32000 on eth_sendRawTransaction: ${message}`);
  const WORDINGS: Array<{ node: string; error: Error; result: BroadcastResult; expect: Action }> = [
    {
      node: 'geth: already known',
      error: rpcError('already known'),
      result: 'already-known',
      expect: { act: 'wait', why: 'not-mined-yet' },
    },
    {
      node: 'Hardhat: Known transaction',
      error: rpcError(`Known transaction: ${SAVED.txHash.slice(2)}`),
      result: 'already-known',
      expect: { act: 'wait', why: 'not-mined-yet' },
    },
    {
      node: 'geth: nonce too low (through ethers: NONCE_EXPIRED)',
      error: makeError('nonce has already been used', 'NONCE_EXPIRED'),
      result: 'refused-nonce-or-fee',
      expect: { act: 'sign-again', why: 'rebroadcast-refused' },
    },
    {
      node: 'Hardhat: Nonce too low',
      error: rpcError('Nonce too low. Expected nonce to be 8 but got 7.'),
      result: 'refused-nonce-or-fee',
      expect: { act: 'sign-again', why: 'rebroadcast-refused' },
    },
    {
      node: 'geth: replacement transaction underpriced (through ethers: REPLACEMENT_UNDERPRICED)',
      error: makeError('replacement fee too low', 'REPLACEMENT_UNDERPRICED'),
      result: 'refused-nonce-or-fee',
      expect: { act: 'sign-again', why: 'rebroadcast-refused' },
    },
    {
      node: 'geth: transaction underpriced',
      error: rpcError('transaction underpriced'),
      result: 'refused-nonce-or-fee',
      expect: { act: 'sign-again', why: 'rebroadcast-refused' },
    },
    {
      node: 'geth: insufficient funds (through ethers: INSUFFICIENT_FUNDS)',
      error: makeError('insufficient funds for intrinsic transaction cost', 'INSUFFICIENT_FUNDS'),
      result: 'insufficient-funds',
      expect: { act: 'fail', why: 'insufficient-funds' },
    },
    {
      node: "Hardhat: Sender doesn't have enough funds",
      error: rpcError("Sender doesn't have enough funds to send tx. The max upfront cost is: 1"),
      result: 'insufficient-funds',
      expect: { act: 'fail', why: 'insufficient-funds' },
    },
    {
      node: 'no answer: the RPC unreachable',
      error: new Error('RPC unreachable: connect ECONNREFUSED 127.0.0.1:8545'),
      result: 'transport-error',
      expect: { act: 'fail', why: 'transport-error' },
    },
    {
      node: 'an answer in words nobody listed',
      error: rpcError('the moon is in the wrong phase'),
      result: 'transport-error',
      expect: { act: 'fail', why: 'transport-error' },
    },
  ];

  it.each(WORDINGS)('$node', ({ error, result, expect: action }) => {
    const classified = classifyRefusal(error) ?? 'transport-error';
    expect(classified).toBe(result);
    const answers: Observed = { ...unmined, rebroadcast: classified, pendingNonce: 7, baseFee: 30n * GWEI };
    expect(run({ batch: batch('submitted') }, answers).action).toEqual(action);
  });
});

describe('batchesToAdvance: only the lowest batch not on chain may be sent', () => {
  const at = (id: number, status: BatchStatus) => batch(status, { id });
  const ADVANCE: Array<{ name: string; open: BatchRow[]; expect: number[] }> = [
    { name: 'nothing open', open: [], expect: [] },
    {
      name: 'sealed batches wait their turn behind the lowest',
      open: [at(1, 'sealed'), at(2, 'sealed'), at(3, 'sealed')],
      expect: [1],
    },
    {
      name: 'a submitted batch holds back the sealed ones after it',
      open: [at(1, 'submitted'), at(2, 'sealed')],
      expect: [1],
    },
    {
      name: 'anchored batches advance, and so does the lowest not on chain after them',
      open: [at(1, 'anchored'), at(2, 'anchored'), at(3, 'submitted'), at(4, 'sealed')],
      expect: [1, 2, 3],
    },
    {
      name: 'a batch reorged back to submitted holds back the sealed, not the anchored, after it',
      open: [at(1, 'submitted'), at(2, 'anchored'), at(3, 'sealed')],
      expect: [1, 2],
    },
  ];

  it.each(ADVANCE)('$name', ({ open, expect: ids }) => {
    expect(batchesToAdvance(open).map((b) => b.id)).toEqual(ids);
  });
});
