/**
 * The anchorer's shell (src/batcher/anchorer.ts): the I/O around its decisions, one pass per outcome,
 * against a scripted chain and a fake batch store. Each case pins the sequence of what happened, in
 * order: chain calls, state changes saved, log lines, crash points passed. Among what that shows: a
 * transaction whose receipt is known is never sent again; nothing is signed again while the saved
 * transaction can still be mined; each state is saved before the step that depends on it; a write
 * the lease no longer allows ends the pass. No chain, no database: milliseconds.
 */
import { Transaction } from 'ethers';
import pino from 'pino';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  advanceBatches,
  AnchorConflictError,
  LeaseLostError,
  recheckFinalBatches,
  type AnchorerDeps,
} from '../../src/batcher/anchorer.ts';
import type {
  AnchorChain,
  AnchorEvent,
  BroadcastOutcome,
  SignedTx,
  TxReceipt,
} from '../../src/chain/registry.ts';
import type { FinalityRule } from '../../src/chain/finality.ts';
import { InsufficientFundsError } from '../../src/chain/rpc-provider.ts';
import type { Hex } from '../../src/core/index.ts';
import type { BatchChange, BatchRow, BatchStatus, LeaseFence } from '../../src/storage/rows.ts';
import {
  batchRow,
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

/** Everything that happened, in order. */
const trace = vi.hoisted(() => [] as string[]);
vi.mock('../../src/batcher/crash-points.ts', () => ({
  crashPoint: (point: string) => {
    trace.push(`crash ${point}`);
  },
}));

const NOW = new Date('2025-01-01T00:01:00.000Z');

/** Names for transactions in the trace, by raw form and by hash. */
const txNames = new Map<string, string>();
function nameTx(tx: SignedTx, name: string): SignedTx {
  txNames.set(tx.rawTx, name);
  txNames.set(tx.txHash, name);
  return tx;
}
const txName = (rawOrHash: string) => txNames.get(rawOrHash) ?? rawOrHash.slice(0, 10);
nameTx(SAVED, 'saved');
nameTx({ rawTx: THEIRS, txHash: THEIRS }, 'theirs');

const blockHashAt = (n: number) => `0x${n.toString(16).padStart(64, '0')}` as Hex;

const COST = { gasUsed: 53_928n, gasPrice: GWEI };

/** A chain that answers as scripted and records every call in the trace. */
class ScriptedChain implements AnchorChain {
  readonly chainId = 31337;
  readonly contract = `0x${'42'.repeat(20)}` as Hex;
  next = 5;
  head = 100;
  /** The account's next nonce as the pool sees it (ours, SAVED, is at 7). */
  pending = 8;
  /** The account's nonce at the latest block. */
  mined = 7;
  /** The node's finalized block. */
  finalized: number | null = 90;
  fee: bigint | null = 30n * GWEI;
  /** The transactions the node holds in its pool, by hash (their nonces: see hold). */
  readonly pool = new Set<Hex>();
  private readonly poolNonces = new Map<Hex, number>();
  /** How the node answers a send: it takes every transaction unless told otherwise. */
  answer: (rawTx: Hex) => Promise<BroadcastOutcome> = async () => ({ kind: 'sent' });
  /** Mine every transaction the node takes at once, in a block of its own (Hardhat's automine). */
  automine = false;
  readonly receipts = new Map<Hex, TxReceipt>();
  readonly canonical = new Map<number, Hex>([[100, BLOCK_HASH]]);
  readonly roots = new Map<number, Hex>();
  readonly events = new Map<number, AnchorEvent>();
  private readonly anchors = new Map<Hex, { batchId: number; root: Hex }>();

  private call(what: string): void {
    trace.push(`chain.${what}`);
  }

  async nextBatchId() {
    this.call('nextBatchId');
    return this.next;
  }
  async rootOf(batchId: number) {
    this.call(`rootOf(${batchId})`);
    return this.roots.get(batchId) ?? (`0x${'00'.repeat(32)}` as Hex);
  }
  async headNumber() {
    this.call('headNumber');
    return this.head;
  }
  async blockHash(blockNumber: number) {
    this.call(`blockHash(${blockNumber})`);
    return this.canonical.get(blockNumber) ?? null;
  }
  async signAnchor(batchId: number, root: Hex, _leafCount: number, nonce = this.pending) {
    this.call(`signAnchor(${batchId})`);
    const tx = nameTx(signedTx(nonce), `signed@${nonce}`);
    this.anchors.set(tx.txHash, { batchId, root });
    return tx;
  }
  async baseFee() {
    this.call('baseFee');
    return this.fee;
  }
  async signReplacement(rawTx: Hex, baseFee: bigint) {
    this.call(`signReplacement(${txName(rawTx)}, ${baseFee / GWEI} gwei)`);
    const old = Transaction.from(rawTx);
    return nameTx(signedTx(old.nonce, { maxFeePerGas: baseFee * 2n }), `replacement@${old.nonce}`);
  }
  async broadcast(rawTx: Hex) {
    this.call(`broadcast(${txName(rawTx)})`);
    const outcome = await this.answer(rawTx);
    if (outcome.kind === 'sent' || outcome.kind === 'already-known') this.hold(rawTx);
    if (this.automine && outcome.kind === 'sent') this.mine(rawTx);
    return outcome;
  }
  async receipt(txHash: Hex) {
    this.call(`receipt(${txName(txHash)})`);
    return this.receipts.get(txHash) ?? null;
  }
  async transaction(txHash: Hex) {
    this.call(`transaction(${txName(txHash)})`);
    if (this.receipts.has(txHash)) return 'mined' as const;
    return this.pool.has(txHash) ? ('pending' as const) : null;
  }
  async minedNonce() {
    this.call('minedNonce');
    return this.mined;
  }
  async taggedBlock(tag: string) {
    this.call(`taggedBlock(${tag})`);
    return this.finalized;
  }
  async balance() {
    this.call('balance');
    return 10n ** 18n;
  }
  async anchorsStateRoots() {
    this.call('anchorsStateRoots');
    return false;
  }
  async findStateRoot() {
    return null;
  }
  async findAnchor(batchId: number) {
    this.call(`findAnchor(${batchId})`);
    return this.events.get(batchId) ?? null;
  }
  async anchorEvents(): Promise<AnchorEvent[]> {
    throw new Error('not used by the anchorer');
  }
  async anchorIn(): Promise<AnchorEvent | null> {
    throw new Error('not used by the anchorer');
  }
  async pendingNonce() {
    this.call('pendingNonce');
    return this.pending;
  }
  close(): void {}

  /** Puts `rawTx` in the pool; the pending nonce runs on over the nonces the pool now holds in a row. */
  hold(rawTx: Hex): void {
    const tx = Transaction.from(rawTx);
    this.pool.add(tx.hash as Hex);
    this.poolNonces.set(tx.hash as Hex, tx.nonce);
    const held = new Set([...this.pool].map((h) => this.poolNonces.get(h)));
    while (held.has(this.pending)) this.pending++;
  }

  /** Mines `rawTx` in a new block; it anchors its batch if the contract expects that id. */
  mine(rawTx: Hex): void {
    const tx = Transaction.from(rawTx);
    const txHash = tx.hash as Hex;
    this.pool.delete(txHash);
    this.mined = Math.max(this.mined, tx.nonce + 1);
    const blockNumber = ++this.head;
    const blockHash = blockHashAt(blockNumber);
    this.canonical.set(blockNumber, blockHash);
    const anchor = this.anchors.get(txHash);
    const anchors = anchor !== undefined && anchor.batchId === this.next;
    this.receipts.set(txHash, { status: anchors ? 'success' : 'reverted', blockNumber, blockHash, ...COST });
    if (!anchor || !anchors) return;
    this.roots.set(anchor.batchId, anchor.root);
    this.events.set(anchor.batchId, { ...anchor, leafCount: 3, txHash, blockNumber, blockHash });
    this.next++;
  }
}

type AnchorerBatches = AnchorerDeps['batches'];

/** The anchorer's slice of a BatchStore, in memory; a save is traced, refused ones too. */
class FakeBatches implements AnchorerBatches {
  private readonly rows = new Map<number, BatchRow>();
  /** The lease's token as the database has it: a fence with another token is refused. */
  leaseToken = 1;

  constructor(rows: BatchRow[]) {
    for (const row of rows) this.rows.set(row.id, { ...row });
  }

  get(id: number): BatchRow {
    return { ...this.rows.get(id)! };
  }

  async unfinished() {
    return this.sorted()
      .filter((b) => b.status !== 'final')
      .map((b) => ({ ...b }));
  }

  async newestFinal(limit: number) {
    return this.sorted()
      .filter((b) => b.status === 'final')
      .reverse()
      .slice(0, limit)
      .map((b) => ({ ...b }));
  }

  async transition(id: number, from: BatchStatus, to: BatchStatus, change: BatchChange, fence: LeaseFence) {
    const row = this.rows.get(id);
    const allowed = row?.status === from && fence.token === this.leaseToken;
    trace.push(`save ${id} ${from}->${to}${allowed ? '' : ' refused'}`);
    if (row && allowed) this.rows.set(id, { ...row, ...change, status: to });
    return allowed;
  }

  private sorted(): BatchRow[] {
    return [...this.rows.values()].sort((a, b) => a.id - b.id);
  }
}

function startRig(rows: BatchRow[], finality: FinalityRule = { kind: 'depth', blocks: 3 }, maxInFlight = 8) {
  const batches = new FakeBatches(rows);
  const chain = new ScriptedChain();
  const logs: Array<Record<string, unknown>> = [];
  const figures = { spent: [] as TxReceipt[], refused: [] as string[], inFlight: [] as number[] };
  const lease = { fence: { name: 'anchorer', holder: 'me', token: 1 } as LeaseFence | null, lost: 0 };
  const log = pino(
    { level: 'info', base: null, timestamp: false },
    {
      write(line: string) {
        const entry = JSON.parse(line) as { level: number; msg: string };
        logs.push(entry);
        trace.push(`${pino.levels.labels[entry.level]}: ${entry.msg}`);
      },
    },
  );
  const deps: AnchorerDeps = {
    batches,
    chain,
    fence: () => lease.fence,
    onLeaseLost: () => {
      lease.lost++;
      lease.fence = null;
    },
    finality,
    maxInFlight,
    figures: {
      spent: (receipt) => figures.spent.push(receipt),
      refused: (kind) => figures.refused.push(kind),
      inFlight: (count) => figures.inFlight.push(count),
    },
    log,
    now: () => NOW,
  };
  return { batches, chain, deps, logs, lease, figures };
}

/** Runs `pass` and returns what it traced. */
async function traced(pass: () => Promise<unknown>): Promise<string[]> {
  trace.length = 0;
  await pass();
  return [...trace];
}

const sent = (rawTx: Hex) => txName(rawTx);

beforeEach(() => {
  trace.length = 0;
});

describe('sealed', () => {
  it('the contract expects our id: signed, saved as submitted, then sent, between the two crash points', async () => {
    const rig = startRig([batchRow('sealed')]);
    expect(await traced(() => advanceBatches(rig.deps))).toEqual([
      'chain.nextBatchId',
      'chain.pendingNonce',
      'chain.signAnchor(5)',
      'save 5 sealed->submitted',
      'info: anchor transaction saved; broadcasting',
      'crash after-sign',
      'chain.broadcast(signed@8)',
      'crash after-broadcast',
    ]);
    const row = rig.batches.get(5);
    expect(row).toMatchObject({ status: 'submitted' });
    expect(sent(row.raw_tx as Hex)).toBe('signed@8');
    expect(txName(row.tx_hash!)).toBe('signed@8');
  });

  it('the first send gets no answer: the step fails with that error; the saved transaction stays', async () => {
    const rig = startRig([batchRow('sealed')]);
    const down = new Error('RPC unreachable: connect ECONNREFUSED');
    rig.chain.answer = async () => {
      throw down;
    };
    await expect(advanceBatches(rig.deps)).rejects.toBe(down);
    expect(trace).not.toContain('crash after-broadcast');
    expect(rig.batches.get(5)).toMatchObject({ status: 'submitted' });
    expect(txName(rig.batches.get(5).raw_tx!)).toBe('signed@8');
  });

  it('an earlier batch is not on chain yet: a warning, nothing signed or saved', async () => {
    const rig = startRig([batchRow('sealed')]);
    rig.chain.next = 4;
    expect(await traced(() => advanceBatches(rig.deps))).toEqual([
      'chain.nextBatchId',
      'warn: an earlier batch is not on chain yet',
    ]);
    expect(rig.logs[0]).toMatchObject({ batchId: 5, chainNext: 4 });
  });

  it('the contract is past our id with our root: its anchor is adopted, nothing signed or sent', async () => {
    const rig = startRig([batchRow('sealed')]);
    rig.chain.next = 6;
    rig.chain.events.set(5, {
      batchId: 5,
      root: ROOT,
      leafCount: 3,
      txHash: THEIRS,
      blockNumber: 99,
      blockHash: BLOCK_HASH,
    });
    expect(await traced(() => advanceBatches(rig.deps))).toEqual([
      'chain.nextBatchId',
      'chain.findAnchor(5)',
      'info: batch found already anchored on chain',
      'save 5 sealed->anchored',
      'info: batch anchored',
      'crash after-anchored',
    ]);
    expect(rig.batches.get(5)).toMatchObject({
      status: 'anchored',
      raw_tx: null,
      tx_hash: THEIRS,
      block_number: 99,
      block_hash: BLOCK_HASH,
      anchored_at: NOW.toISOString(),
    });
  });

  it('the contract is past our id with another root: AnchorConflictError, nothing saved or signed', async () => {
    const rig = startRig([batchRow('sealed')]);
    rig.chain.next = 6;
    rig.chain.events.set(5, {
      batchId: 5,
      root: OTHER_ROOT,
      leafCount: 3,
      txHash: THEIRS,
      blockNumber: 99,
      blockHash: BLOCK_HASH,
    });
    await expect(advanceBatches(rig.deps)).rejects.toThrow(AnchorConflictError);
    expect(trace).toEqual(['chain.nextBatchId', 'chain.findAnchor(5)']);
    expect(rig.batches.get(5)).toEqual(batchRow('sealed'));
  });
});

describe('submitted', () => {
  it('mined: saved as anchored from the receipt, between the crash points; never sent again', async () => {
    const rig = startRig([batchRow('submitted')]);
    rig.chain.receipts.set(SAVED.txHash, {
      status: 'success',
      blockNumber: 100,
      blockHash: BLOCK_HASH,
      ...COST,
    });
    expect(await traced(() => advanceBatches(rig.deps))).toEqual([
      'chain.receipt(saved)',
      'crash after-mined',
      'save 5 submitted->anchored',
      'info: batch anchored',
      'crash after-anchored',
    ]);
    expect(rig.batches.get(5)).toMatchObject({
      status: 'anchored',
      raw_tx: SAVED.rawTx,
      tx_hash: SAVED.txHash,
      block_number: 100,
      block_hash: BLOCK_HASH,
    });
  });

  it('our own saved transaction mined between reading its receipt and the contract: adopted, keeping the transaction', async () => {
    const rig = startRig([batchRow('submitted')]);
    rig.chain.next = 6;
    rig.chain.events.set(5, {
      batchId: 5,
      root: ROOT,
      leafCount: 3,
      txHash: SAVED.txHash,
      blockNumber: 100,
      blockHash: BLOCK_HASH,
    });
    // Not mined at the first read; mined by the time the contract is read.
    const receipt: TxReceipt = { status: 'success', blockNumber: 100, blockHash: BLOCK_HASH, ...COST };
    const firstRead = rig.chain.receipt.bind(rig.chain);
    rig.chain.receipt = async (txHash) => {
      const seen = await firstRead(txHash);
      rig.chain.receipts.set(SAVED.txHash, receipt);
      return seen;
    };
    await advanceBatches(rig.deps);
    expect(rig.batches.get(5)).toMatchObject({
      status: 'anchored',
      tx_hash: SAVED.txHash,
      raw_tx: SAVED.rawTx,
    });
    // What it cost is counted, as for any receipt of ours.
    expect(rig.figures.spent).toEqual([receipt]);
  });

  it('reverted: back to sealed, nothing sent; the next pass signs afresh', async () => {
    const rig = startRig([batchRow('submitted')]);
    rig.chain.receipts.set(SAVED.txHash, {
      status: 'reverted',
      blockNumber: 100,
      blockHash: BLOCK_HASH,
      ...COST,
    });
    expect(await traced(() => advanceBatches(rig.deps))).toEqual([
      'chain.receipt(saved)',
      'chain.nextBatchId',
      'warn: anchor transaction reverted; will sign again',
      'save 5 submitted->sealed',
    ]);
    expect(rig.batches.get(5)).toMatchObject({ status: 'sealed', raw_tx: null, tx_hash: null });
    expect(await traced(() => advanceBatches(rig.deps))).toContain('chain.signAnchor(5)');
  });

  it('dropped from the pool: the same saved transaction is sent again, nothing saved, nothing signed', async () => {
    const rig = startRig([batchRow('submitted')]);
    rig.chain.pending = 7;
    expect(await traced(() => advanceBatches(rig.deps))).toEqual([
      'chain.receipt(saved)',
      'chain.nextBatchId',
      'chain.transaction(saved)',
      'chain.minedNonce',
      'chain.broadcast(saved)',
      'chain.pendingNonce',
      'chain.baseFee',
    ]);
    expect(rig.batches.get(5)).toEqual(batchRow('submitted'));
  });

  it('the node already holds it: no failure, nothing saved', async () => {
    const rig = startRig([batchRow('submitted')]);
    rig.chain.answer = async () => ({ kind: 'already-known' });
    expect(await advanceBatches(rig.deps)).toBe(0);
    expect(trace.filter((t) => !t.startsWith('chain.'))).toEqual([]);
  });

  it('the node has it in its pool: it is not sent again, nothing saved, no failure', async () => {
    const rig = startRig([batchRow('submitted')]);
    rig.chain.pool.add(SAVED.txHash);
    rig.chain.answer = async () => {
      throw new Error('RPC error -32003 on eth_sendRawTransaction: transaction already imported');
    };
    expect(await traced(() => advanceBatches(rig.deps))).toEqual([
      'chain.receipt(saved)',
      'chain.nextBatchId',
      'chain.transaction(saved)',
      'chain.pendingNonce',
      'chain.baseFee',
    ]);
    expect(rig.batches.get(5)).toEqual(batchRow('submitted'));
  });

  it('nonce taken by another holder of the key: its nonce is mined and ours is not: back to sealed, without sending it; signed anew', async () => {
    const rig = startRig([batchRow('submitted')]);
    rig.chain.mined = 8;
    expect(await traced(() => advanceBatches(rig.deps))).toEqual([
      'chain.receipt(saved)',
      'chain.nextBatchId',
      'chain.transaction(saved)',
      'chain.minedNonce',
      "warn: another transaction used the anchor transaction's nonce; will sign again",
      'save 5 submitted->sealed',
    ]);
    expect(rig.logs[0]).toMatchObject({ batchId: 5, nonce: 7, minedNonce: 8 });
    expect(await traced(() => advanceBatches(rig.deps))).toEqual([
      'chain.nextBatchId',
      'chain.pendingNonce',
      'chain.signAnchor(5)',
      'save 5 sealed->submitted',
      'info: anchor transaction saved; broadcasting',
      'crash after-sign',
      'chain.broadcast(signed@8)',
      'crash after-broadcast',
    ]);
  });

  it('the rebroadcast gets no answer: the step fails with that error; the saved transaction is kept, not signed again', async () => {
    const rig = startRig([batchRow('submitted')]);
    const down = new Error('RPC request timed out after 30000 ms');
    rig.chain.answer = async () => {
      throw down;
    };
    await expect(advanceBatches(rig.deps)).rejects.toBe(down);
    expect(trace).toEqual([
      'chain.receipt(saved)',
      'chain.nextBatchId',
      'chain.transaction(saved)',
      'chain.minedNonce',
      'chain.broadcast(saved)',
    ]);
    expect(rig.batches.get(5)).toEqual(batchRow('submitted'));
  });

  it("insufficient funds: the step fails with the chain client's InsufficientFundsError; the transaction is kept", async () => {
    const rig = startRig([batchRow('submitted')]);
    const broke = new InsufficientFundsError('anchorer 0x… has insufficient funds to anchor batch 5');
    rig.chain.answer = async () => ({ kind: 'insufficient-funds', error: broke });
    await expect(advanceBatches(rig.deps)).rejects.toBe(broke);
    expect(rig.batches.get(5)).toEqual(batchRow('submitted'));
    expect(trace).not.toContain('chain.signAnchor(5)');
  });

  it('waiting behind a nonce gap: back to sealed, to be signed at the free nonce', async () => {
    const rig = startRig([batchRow('submitted')]);
    rig.chain.pool.add(SAVED.txHash);
    rig.chain.pending = 6;
    expect(await traced(() => advanceBatches(rig.deps))).toEqual([
      'chain.receipt(saved)',
      'chain.nextBatchId',
      'chain.transaction(saved)',
      'chain.pendingNonce',
      'warn: anchor transaction waits behind a nonce gap; will sign again',
      'save 5 submitted->sealed',
    ]);
    expect(rig.logs[0]).toMatchObject({ batchId: 5, txHash: SAVED.txHash, nonce: 7, pendingNonce: 6 });
  });

  it('underpriced after a base fee rise: a replacement at the same nonce is saved in its place, then sent', async () => {
    const rig = startRig([batchRow('submitted')]);
    rig.chain.pool.add(SAVED.txHash);
    rig.chain.fee = 400n * GWEI;
    expect(await traced(() => advanceBatches(rig.deps))).toEqual([
      'chain.receipt(saved)',
      'chain.nextBatchId',
      'chain.transaction(saved)',
      'chain.pendingNonce',
      'chain.baseFee',
      'chain.signReplacement(saved, 400 gwei)',
      'save 5 submitted->submitted',
      'warn: anchor transaction underpriced after a base fee rise; replaced it at the same nonce with higher fees',
      'chain.broadcast(replacement@7)',
    ]);
    const row = rig.batches.get(5);
    expect(txName(row.raw_tx!)).toBe('replacement@7');
    expect(txName(row.tx_hash!)).toBe('replacement@7');
    expect(rig.logs[0]).toMatchObject({ replaced: SAVED.txHash, txHash: row.tx_hash });
  });

  it('adopted from the chain, then reorged away: back to sealed without sending what is not ours', async () => {
    const rig = startRig([batchRow('submitted', { raw_tx: null, tx_hash: THEIRS })]);
    expect(await traced(() => advanceBatches(rig.deps))).toEqual([
      'chain.receipt(theirs)',
      'chain.nextBatchId',
      'save 5 submitted->sealed',
    ]);
    expect(rig.batches.get(5)).toMatchObject({ status: 'sealed', raw_tx: null, tx_hash: null });
  });
});

describe('anchored', () => {
  it('reorged before final: back to submitted, keeping its transaction', async () => {
    const rig = startRig([batchRow('anchored')]);
    rig.chain.canonical.set(100, REORGED_HASH);
    expect(await traced(() => advanceBatches(rig.deps))).toEqual([
      'chain.blockHash(100)',
      'warn: anchor block left the canonical chain; re-anchoring',
      'save 5 anchored->submitted',
    ]);
    expect(rig.batches.get(5)).toMatchObject({
      status: 'submitted',
      raw_tx: SAVED.rawTx,
      tx_hash: SAVED.txHash,
      block_number: null,
      block_hash: null,
      anchored_at: null,
    });
  });

  it('not enough confirmations: nothing saved', async () => {
    const rig = startRig([batchRow('anchored')]);
    rig.chain.head = 101;
    expect(await traced(() => advanceBatches(rig.deps))).toEqual([
      'chain.blockHash(100)',
      'chain.headNumber',
    ]);
    expect(rig.batches.get(5)).toEqual(batchRow('anchored'));
  });

  it("deep enough: final, with the chain's root", async () => {
    const rig = startRig([batchRow('anchored')]);
    rig.chain.head = 102;
    rig.chain.roots.set(5, ROOT);
    expect(await traced(() => advanceBatches(rig.deps))).toEqual([
      'chain.blockHash(100)',
      'chain.headNumber',
      'chain.rootOf(5)',
      'save 5 anchored->final',
      'info: batch final',
    ]);
    expect(rig.batches.get(5)).toMatchObject({
      status: 'final',
      chain_root: ROOT,
      final_at: NOW.toISOString(),
    });
  });

  it('deep enough with a conflicting root: AnchorConflictError naming both roots, nothing saved', async () => {
    const rig = startRig([batchRow('anchored')]);
    rig.chain.head = 102;
    rig.chain.roots.set(5, OTHER_ROOT);
    await expect(advanceBatches(rig.deps)).rejects.toThrow(
      new AnchorConflictError(`batch 5: chain root ${OTHER_ROOT} differs from stored ${ROOT}`),
    );
    expect(rig.batches.get(5)).toEqual(batchRow('anchored'));
  });
});

describe('a pass over several batches', () => {
  const DEPTH_1: FinalityRule = { kind: 'depth', blocks: 1 };

  it('MAX_IN_FLIGHT=1: only the lowest batch not on chain is sent; anchored ones advance alongside', async () => {
    const rig = startRig(
      [batchRow('anchored', { id: 4 }), batchRow('sealed', { id: 5 }), batchRow('sealed', { id: 6 })],
      undefined,
      1,
    );
    rig.chain.roots.set(4, ROOT);
    rig.chain.head = 102;
    expect(await advanceBatches(rig.deps)).toBe(2);
    expect(trace.filter((t) => t.startsWith('chain.'))).toEqual([
      'chain.blockHash(100)',
      'chain.headNumber',
      'chain.rootOf(4)',
      'chain.nextBatchId',
      'chain.pendingNonce',
      'chain.signAnchor(5)',
      'chain.broadcast(signed@8)',
    ]);
    expect(rig.batches.get(6)).toEqual(batchRow('sealed', { id: 6 }));
  });

  it("MAX_IN_FLIGHT=1, run as the batcher's loop runs it, on an automining chain: sealed to final, signed once, sent once", async () => {
    const rig = startRig([batchRow('sealed'), batchRow('sealed', { id: 6 })], DEPTH_1, 1);
    rig.chain.automine = true;
    while ((await advanceBatches(rig.deps)) > 0);
    for (const id of [5, 6]) expect(rig.batches.get(id)).toMatchObject({ status: 'final', chain_root: ROOT });
    const calls = trace.filter((t) => /^chain\.(signAnchor|broadcast)/.test(t));
    expect(calls).toEqual([
      'chain.signAnchor(5)',
      'chain.broadcast(signed@8)',
      'chain.signAnchor(6)',
      'chain.broadcast(signed@9)',
    ]);
    // A pass sees 5 mined and sends 6 at once, in the same pass, now that the window has room.
    expect(trace.filter((t) => t.startsWith('save'))).toEqual([
      'save 5 sealed->submitted',
      'save 5 submitted->anchored',
      'save 6 sealed->submitted',
      'save 5 anchored->final',
      'save 6 submitted->anchored',
      'save 6 anchored->final',
    ]);
  });

  it('pipelined: one pass signs and sends every sealed batch the window allows, in id order at rising nonces', async () => {
    const rig = startRig(
      [4, 5, 6, 7].map((id) => batchRow('sealed', { id })),
      undefined,
      3,
    );
    rig.chain.next = 4;
    expect(await advanceBatches(rig.deps)).toBe(3);
    expect(trace.filter((t) => /^chain\.(signAnchor|broadcast)/.test(t))).toEqual([
      'chain.signAnchor(4)',
      'chain.broadcast(signed@8)',
      'chain.signAnchor(5)',
      'chain.broadcast(signed@9)',
      'chain.signAnchor(6)',
      'chain.broadcast(signed@10)',
    ]);
    expect(rig.batches.get(7).status).toBe('sealed');
    expect(rig.figures.inFlight).toEqual([3]);
    // The next pass: all three held by the node, none mined: nothing sent again, nothing new signed.
    trace.length = 0;
    expect(await advanceBatches(rig.deps)).toBe(0);
    expect(trace.filter((t) => /^chain\.(signAnchor|broadcast)/.test(t))).toEqual([]);
  });

  it('pipelined, on an automining chain with the loop: every batch final, each signed once and sent once', async () => {
    const rig = startRig(
      [5, 6, 7].map((id) => batchRow('sealed', { id })),
      DEPTH_1,
    );
    rig.chain.automine = true;
    while ((await advanceBatches(rig.deps)) > 0);
    for (const id of [5, 6, 7])
      expect(rig.batches.get(id)).toMatchObject({ status: 'final', chain_root: ROOT });
    expect(trace.filter((t) => /^chain\.(signAnchor|broadcast)/.test(t))).toEqual([
      'chain.signAnchor(5)',
      'chain.broadcast(signed@8)',
      'chain.signAnchor(6)',
      'chain.broadcast(signed@9)',
      'chain.signAnchor(7)',
      'chain.broadcast(signed@10)',
    ]);
    expect(rig.figures.spent).toHaveLength(3);
  });

  it('pipelined: the lowest of several in flight dropped from the pool: sent again first, the others left alone', async () => {
    const rows = [5, 6, 7].map((id) => batchRow('submitted', { id, ...signedRow(2 + id) }));
    const rig = startRig(rows);
    rig.chain.pending = 7; // the gap the dropped one left
    for (const row of rows.slice(1)) rig.chain.hold(row.raw_tx as Hex);
    expect(await advanceBatches(rig.deps)).toBe(0);
    expect(trace.filter((t) => /^chain\.(signAnchor|broadcast)/.test(t))).toEqual(['chain.broadcast(saved)']);
    expect(trace.filter((t) => t.startsWith('save'))).toEqual([]);
  });

  it('pipelined: a reorg takes two anchors off the chain: both back to submitted, then held again, nothing signed', async () => {
    const rows = [5, 6].map((id) =>
      batchRow('anchored', {
        id,
        ...signedRow(2 + id),
        block_number: 95 + id,
        block_hash: blockHashAt(95 + id),
      }),
    );
    const rig = startRig(rows);
    rig.chain.head = 110;
    expect(await advanceBatches(rig.deps)).toBe(2);
    expect(trace.filter((t) => t.startsWith('save') || t.startsWith('warn'))).toEqual([
      'warn: anchor block left the canonical chain; re-anchoring',
      'save 5 anchored->submitted',
      'warn: anchor block left the canonical chain; re-anchoring',
      'save 6 anchored->submitted',
    ]);
    // The node put both back in its pool: they wait to be mined again, nothing is sent or signed.
    for (const row of rows) rig.chain.pool.add(row.tx_hash as Hex);
    trace.length = 0;
    expect(await advanceBatches(rig.deps)).toBe(0);
    expect(trace.filter((t) => /^chain\.(signAnchor|broadcast)/.test(t))).toEqual([]);
  });

  it('pipelined: the lowest in flight loses its nonce to another holder of the key: it is signed again above the others, which revert, and nothing is sent above them until they are signed again', async () => {
    const rows = [
      batchRow('submitted', { id: 5, ...signedRow(7) }),
      batchRow('submitted', { id: 6, ...signedRow(8) }),
      batchRow('sealed', { id: 7 }),
    ];
    const rig = startRig(rows);
    rig.chain.pool.add(rows[1]!.tx_hash as Hex);
    rig.chain.mined = 8; // someone else's transaction took nonce 7
    rig.chain.pending = 9;
    const sendsAndSaves = () =>
      trace.filter((t) => t.startsWith('save') || /^chain\.(signAnchor|broadcast)/.test(t));
    expect(await traced(() => advanceBatches(rig.deps))).toContain('save 5 submitted->sealed');
    expect(sendsAndSaves()).toEqual(['save 5 submitted->sealed']);
    // The next pass signs 5 again at 9, above 6 (at 8), which will revert; 7 waits for 6 to be signed again.
    expect(await traced(() => advanceBatches(rig.deps))).toContain(
      'info: an anchor below was signed again above others still in flight; sending this one after them',
    );
    expect(sendsAndSaves()).toEqual([
      'chain.signAnchor(5)',
      'save 5 sealed->submitted',
      'chain.broadcast(signed@9)',
    ]);
    expect(rig.batches.get(7).status).toBe('sealed');

    // 6 is mined first and reverts (5 is not anchored yet), then 5 anchors.
    rig.chain.mine(rows[1]!.raw_tx as Hex);
    rig.chain.mine(rig.batches.get(5).raw_tx as Hex);
    trace.length = 0;
    while ((await advanceBatches(rig.deps)) > 0);
    expect(trace.filter((t) => t.startsWith('save') || /^chain\.signAnchor/.test(t))).toEqual([
      'save 5 submitted->anchored',
      'save 6 submitted->sealed',
      'chain.signAnchor(6)',
      'save 6 sealed->submitted',
      'chain.signAnchor(7)',
      'save 7 sealed->submitted',
    ]);
    expect(txName(rig.batches.get(6).raw_tx!)).toBe('signed@10');
    expect(txName(rig.batches.get(7).raw_tx!)).toBe('signed@11');
  });
});

describe('the lease', () => {
  it('lost to another holder: the refused write forgets the lease and throws LeaseLostError; nothing is sent', async () => {
    const rig = startRig([batchRow('sealed')]);
    rig.batches.leaseToken = 2;
    await expect(advanceBatches(rig.deps)).rejects.toThrow(
      new LeaseLostError('batch 5: lease lost or batch changed under us; stepping down'),
    );
    expect(trace).toEqual([
      'chain.nextBatchId',
      'chain.pendingNonce',
      'chain.signAnchor(5)',
      'save 5 sealed->submitted refused',
    ]);
    expect(rig.lease).toMatchObject({ lost: 1, fence: null });
    await expect(advanceBatches(rig.deps)).rejects.toThrow(new LeaseLostError('not the leader'));
    expect(rig.batches.get(5)).toEqual(batchRow('sealed'));
  });

  it('pipelined: lost while sending the second of several: the pass ends there, the first stays in flight', async () => {
    const rig = startRig([5, 6, 7].map((id) => batchRow('sealed', { id })));
    const transition = rig.batches.transition.bind(rig.batches);
    rig.batches.transition = async (id, from, to, change, fence) => {
      if (id === 6) rig.batches.leaseToken = 2; // another instance took the lease meanwhile
      return transition(id, from, to, change, fence);
    };
    await expect(advanceBatches(rig.deps)).rejects.toThrow(LeaseLostError);
    expect(trace.filter((t) => t.startsWith('save') || /^chain\.(signAnchor|broadcast)/.test(t))).toEqual([
      'chain.signAnchor(5)',
      'save 5 sealed->submitted',
      'chain.broadcast(signed@8)',
      'chain.signAnchor(6)',
      'save 6 sealed->submitted refused',
    ]);
    expect(rig.lease).toMatchObject({ lost: 1, fence: null });
    expect(rig.batches.get(5).status).toBe('submitted');
    expect(rig.batches.get(6)).toEqual(batchRow('sealed', { id: 6 }));
    expect(rig.batches.get(7)).toEqual(batchRow('sealed', { id: 7 }));
  });

  it('not leading: LeaseLostError before anything is written', async () => {
    const rig = startRig([batchRow('anchored')]);
    rig.lease.fence = null;
    rig.chain.canonical.set(100, REORGED_HASH);
    await expect(advanceBatches(rig.deps)).rejects.toThrow(new LeaseLostError('not the leader'));
    expect(trace.some((t) => t.startsWith('save'))).toBe(false);
    expect(rig.lease.lost).toBe(0);
  });
});

describe('recheckFinalBatches', () => {
  const finals = (n: number) =>
    Array.from({ length: n }, (_, i) =>
      batchRow('final', { id: i + 1, block_number: 10 * (i + 1), block_hash: blockHashAt(10 * (i + 1)) }),
    );
  const canonical = (rig: ReturnType<typeof startRig>, n: number) => {
    for (let i = 1; i <= n; i++) rig.chain.canonical.set(10 * i, blockHashAt(10 * i));
  };

  it("the newest final batch's block is canonical: one RPC call, nothing demoted", async () => {
    const rig = startRig(finals(3));
    canonical(rig, 3);
    let demoted = -1;
    expect(await traced(async () => (demoted = await recheckFinalBatches(rig.deps)))).toEqual([
      'chain.blockHash(30)',
    ]);
    expect(demoted).toBe(0);
  });

  it('a reorg deeper than CONFIRMATIONS: final batches demoted newest first, down to the first still canonical', async () => {
    const rig = startRig(finals(3));
    canonical(rig, 1);
    let demoted = -1;
    expect(await traced(async () => (demoted = await recheckFinalBatches(rig.deps)))).toEqual([
      'chain.blockHash(30)',
      'error: a final batch left the canonical chain (a reorg deeper than CONFIRMATIONS); anchoring it again',
      'save 3 final->submitted',
      'chain.blockHash(20)',
      'error: a final batch left the canonical chain (a reorg deeper than CONFIRMATIONS); anchoring it again',
      'save 2 final->submitted',
      'chain.blockHash(10)',
    ]);
    expect(demoted).toBe(2);
    expect(rig.batches.get(3)).toMatchObject({
      status: 'submitted',
      block_number: null,
      block_hash: null,
      final_at: null,
      chain_root: null,
      tx_hash: SAVED.txHash,
    });
    expect(rig.batches.get(1).status).toBe('final');
  });

  it('a reorg reaching more final batches than one page: every one of them demoted', async () => {
    const rig = startRig(finals(250));
    expect(await recheckFinalBatches(rig.deps)).toBe(250);
    expect((await rig.batches.newestFinal(1)).length).toBe(0);
  });
});
