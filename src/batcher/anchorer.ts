/**
 * Moves sealed batches onto the chain: sealed -> submitted -> anchored -> final. What to do is
 * decided in decide.ts; this is the I/O around it: it reads from the chain what a decision asks
 * for, performs the action decided, and saves each state change through BatchStore.transition,
 * fenced by the anchorer lease. Each state is saved before the step that depends on it (the signed
 * transaction is saved before it is broadcast), so a crash anywhere resumes without anchoring a
 * batch id twice; the contract's ordering is the last guard. Up to MAX_IN_FLIGHT anchors are in
 * flight at once, signed in id order at rising nonces.
 */
import type { Logger } from 'pino';
import type { FinalityRule } from '../chain/finality.ts';
import type { AnchorChain, TxReceipt } from '../chain/registry.ts';
import type { RpcErrorKind } from '../chain/rpc-provider.ts';
import type { Hex } from '../core/index.ts';
import type { BatchChange, BatchRow, BatchStatus, LeaseFence } from '../storage/rows.ts';
import type { BatchStore } from '../storage/storage.ts';
import { crashPoint } from './crash-points.ts';
import {
  decide,
  inFlight,
  mayAdvance,
  nodeHolds,
  type Action,
  type BroadcastResult,
  type InFlight,
  type Observation,
  type Observed,
  type WaitReason,
} from './decide.ts';

/** The chain holds a different root for a batch id than the database: anchoring must stop. */
export class AnchorConflictError extends Error {
  override name = 'AnchorConflictError';
}

export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}

export interface AnchorerDeps {
  /** The anchorer reads unfinished and final batches and changes their state; nothing more. */
  batches: Pick<BatchStore, 'unfinished' | 'newestFinal' | 'transition'>;
  chain: AnchorChain;
  /** The anchorer lease's fence while this instance holds it, else null; read at every write. */
  fence(): LeaseFence | null;
  /** A fenced write was refused (the lease passed on, or the batch moved under us): forget the lease. */
  onLeaseLost(): void;
  /** CONFIRMATIONS: when an anchored batch is final. */
  finality: FinalityRule;
  /** MAX_IN_FLIGHT: how many anchor transactions of ours may wait to be mined at once. */
  maxInFlight: number;
  /** Where the figures an operator watches go (the batcher's status); optional for tests. */
  figures?: AnchorFigures;
  log: Logger;
  now(): Date;
}

/** What the anchorer reports as it goes. */
export interface AnchorFigures {
  /** A receipt of ours was recorded (mined, anchored or reverted): what it cost. */
  spent(receipt: TxReceipt): void;
  /** A node refused a transaction of ours (its words, classified: a hint, not an error of ours). */
  refused(kind: RpcErrorKind): void;
  /** How many anchors of ours are in flight after a pass. */
  inFlight(count: number): void;
}

/**
 * Advances every unfinished batch by as many steps as it can take now, in id order; returns how many
 * moved. The pass sees each batch's new state as it saves it, so sealed batches are sent one after
 * another (each above the one sent before it) while the window has room.
 */
export async function advanceBatches(deps: AnchorerDeps): Promise<number> {
  const view = await deps.batches.unfinished();
  const reads = new ChainWideReads(deps.chain);
  let moved = 0;
  for (let i = 0; i < view.length; i++) {
    const batch = view[i]!;
    if (!mayAdvance(view, batch, deps.maxInFlight)) continue;
    const after = await advance(deps, batch, inFlight(view.slice(0, i)), reads);
    if (after === null) continue;
    view[i] = after;
    moved++;
  }
  deps.figures?.inFlight(inFlight(view).length);
  return moved;
}

/**
 * Readings of the whole chain that only grow (the head, the finality mark), read at most once per
 * pass and shared by its batches: a reading a moment old can only make a batch wait a pass longer.
 */
class ChainWideReads {
  private head: Promise<number> | null = null;
  private readonly tagged = new Map<string, Promise<number | null>>();

  constructor(private readonly chain: AnchorChain) {}

  headNumber(): Promise<number> {
    return (this.head ??= this.chain.headNumber());
  }

  taggedBlock(rule: FinalityRule): Promise<number | null> {
    if (rule.kind !== 'tag') throw new Error('the finality rule names no tag');
    let read = this.tagged.get(rule.tag);
    if (!read) this.tagged.set(rule.tag, (read = this.chain.taggedBlock(rule.tag)));
    return read;
  }
}

/** Final batches read per page when a reorg reaches them. */
const FINAL_PAGE = 100;

/**
 * Final is CONFIRMATIONS deep, which a deeper reorg can still undo. The newest final batch's block
 * is checked on every pass (one RPC call): a reorg that reaches any final batch reaches it too. Each
 * final batch whose block left the chain goes back to submitted (its verdicts to pending) and is
 * anchored again, newest first, up to the first still on the canonical chain. Returns how many were
 * demoted.
 */
export async function recheckFinalBatches(deps: AnchorerDeps): Promise<number> {
  const reads = new ChainWideReads(deps.chain);
  const [newest] = await deps.batches.newestFinal(1);
  if (!newest || !(await advance(deps, newest, [], reads))) return 0;
  let demoted = 1;
  for (;;) {
    // Demoted batches leave the final set, so each page starts again from the newest left.
    const page = await deps.batches.newestFinal(FINAL_PAGE);
    for (const batch of page) {
      if (!(await advance(deps, batch, [], reads))) return demoted;
      demoted++;
    }
    if (page.length < FINAL_PAGE) return demoted;
  }
}

/** What one batch's pass has read, and how sending its saved transaction again went. */
interface Pass {
  seen: Observed;
  rebroadcast: Sent | null;
}

/**
 * One batch's pass: reads what the decision asks for until it decides, then performs the decision.
 * Returns the batch as saved, or null when its state did not change.
 */
async function advance(
  deps: AnchorerDeps,
  batch: BatchRow,
  below: readonly InFlight[],
  reads: ChainWideReads,
): Promise<BatchRow | null> {
  const pass: Pass = { seen: {}, rebroadcast: null };
  for (;;) {
    const step = decide(batch, pass.seen, { finality: deps.finality }, below);
    if (!('observe' in step)) return perform(deps, batch, step, pass);
    await observe(deps, batch, step.observe, pass, reads);
  }
}

async function observe(
  deps: AnchorerDeps,
  batch: BatchRow,
  what: Observation,
  pass: Pass,
  reads: ChainWideReads,
): Promise<void> {
  const { chain } = deps;
  const { seen } = pass;
  switch (what) {
    case 'nextBatchId':
      seen.nextBatchId = await chain.nextBatchId();
      return;
    case 'receipt':
      seen.receipt = await chain.receipt(batch.tx_hash as Hex);
      return;
    case 'whereabouts':
      seen.whereabouts = await chain.transaction(batch.tx_hash as Hex);
      return;
    case 'minedNonce':
      seen.minedNonce = await chain.minedNonce();
      return;
    case 'rebroadcast':
      pass.rebroadcast = await send(deps, batch.raw_tx as Hex);
      seen.rebroadcast = pass.rebroadcast.result;
      return;
    case 'pendingNonce':
      seen.pendingNonce = await chain.pendingNonce();
      return;
    case 'baseFee':
      seen.baseFee = await chain.baseFee();
      return;
    case 'blockHash':
      seen.blockHash = await chain.blockHash(batch.block_number!);
      return;
    case 'head':
      seen.head = await reads.headNumber();
      return;
    case 'taggedBlock':
      seen.taggedBlock = await reads.taggedBlock(deps.finality);
      return;
    case 'chainRoot':
      seen.chainRoot = await chain.rootOf(batch.id);
      return;
    case 'anchorEvent':
      seen.anchorEvent = await chain.findAnchor(batch.id);
      return;
  }
}

async function perform(
  deps: AnchorerDeps,
  batch: BatchRow,
  action: Action,
  pass: Pass,
): Promise<BatchRow | null> {
  const { chain, log } = deps;
  switch (action.act) {
    case 'send': {
      // The state root goes beside the batch root when the registry takes it; on a registry deployed
      // before anchorWithState the batch is anchored without it, and its row says so (state_root null).
      const stateRoot =
        batch.state_root !== null && (await chain.anchorsStateRoots()) ? (batch.state_root as Hex) : null;
      if (batch.state_root !== null && stateRoot === null) {
        log.warn({ batchId: batch.id }, 'registry has no anchorWithState: anchoring without the state root');
      }
      const signed = await chain.signAnchor(
        batch.id,
        batch.root as Hex,
        batch.leaf_count,
        action.nonce,
        stateRoot,
      );
      const saved = await save(deps, batch, 'submitted', {
        raw_tx: signed.rawTx,
        tx_hash: signed.txHash,
        ...(stateRoot === null && batch.state_root !== null && { state_root: null }),
      });
      log.info(
        { batchId: batch.id, txHash: signed.txHash, nonce: action.nonce, leaves: batch.leaf_count },
        'anchor transaction saved; broadcasting',
      );
      crashPoint('after-sign');
      await sendFresh(deps, saved, signed.rawTx);
      crashPoint('after-broadcast');
      return saved;
    }
    case 'mark-anchored':
      crashPoint('after-mined');
      deps.figures?.spent(action.receipt);
      return markAnchored(deps, batch, batch.tx_hash as Hex, batch.raw_tx, action.receipt);
    case 'adopt': {
      log.info({ batchId: batch.id, txHash: action.anchor.txHash }, 'batch found already anchored on chain');
      // Our own saved transaction, mined between two reads: keep it, to send again after a reorg.
      const ours = action.anchor.txHash === batch.tx_hash ? batch.raw_tx : null;
      if (ours !== null) {
        // Ours after all: what it cost counts like any receipt of ours.
        const receipt = await chain.receipt(batch.tx_hash as Hex);
        if (receipt !== null) deps.figures?.spent(receipt);
      }
      return markAnchored(deps, batch, action.anchor.txHash, ours, action.anchor);
    }
    case 'sign-again':
      if (action.why === 'reverted' && pass.seen.receipt) deps.figures?.spent(pass.seen.receipt);
      logSignAgain(log, batch, action, pass);
      return save(deps, batch, 'sealed', { raw_tx: null, tx_hash: null });
    case 'replace': {
      const replacement = await chain.signReplacement(batch.raw_tx as Hex, action.baseFee);
      const saved = await save(deps, batch, 'submitted', {
        raw_tx: replacement.rawTx,
        tx_hash: replacement.txHash,
      });
      log.warn(
        { batchId: batch.id, replaced: batch.tx_hash, txHash: replacement.txHash },
        'anchor transaction underpriced after a base fee rise; replaced it at the same nonce with higher fees',
      );
      await sendFresh(deps, saved, replacement.rawTx);
      return saved;
    }
    case 'unanchor':
      if (action.why === 'reorg') {
        log.warn(
          { batchId: batch.id, block: batch.block_number },
          'anchor block left the canonical chain; re-anchoring',
        );
      } else {
        log.error(
          { batchId: batch.id, block: batch.block_number },
          'a final batch left the canonical chain (a reorg deeper than CONFIRMATIONS); anchoring it again',
        );
      }
      return save(deps, batch, 'submitted', {
        block_number: null,
        block_hash: null,
        anchored_at: null,
        final_at: null,
        chain_root: null,
      });
    case 'finalize': {
      const saved = await save(deps, batch, 'final', {
        final_at: deps.now().toISOString(),
        chain_root: action.chainRoot,
      });
      log.info({ batchId: batch.id, block: batch.block_number }, 'batch final');
      return saved;
    }
    case 'wait':
      logWait(log, batch, action.why, pass);
      return null;
    case 'halt':
      throw new AnchorConflictError(action.conflict);
    case 'fail':
      throw pass.rebroadcast!.error;
  }
}

async function markAnchored(
  deps: AnchorerDeps,
  batch: BatchRow,
  txHash: Hex,
  rawTx: string | null,
  block: { blockNumber: number; blockHash: Hex },
): Promise<BatchRow> {
  const saved = await save(deps, batch, 'anchored', {
    tx_hash: txHash,
    raw_tx: rawTx,
    block_number: block.blockNumber,
    block_hash: block.blockHash,
    anchored_at: deps.now().toISOString(),
  });
  deps.log.info({ batchId: batch.id, txHash, block: block.blockNumber }, 'batch anchored');
  crashPoint('after-anchored');
  return saved;
}

/** Waits worth a line in the log: those that say something is not as it should be. */
function logWait(log: Logger, batch: BatchRow, why: WaitReason, pass: Pass): void {
  switch (why) {
    case 'earlier-batch-not-on-chain':
      log.warn(
        { batchId: batch.id, chainNext: pass.seen.nextBatchId },
        'an earlier batch is not on chain yet',
      );
      return;
    case 'earlier-anchor-out-of-order':
      log.info(
        { batchId: batch.id },
        'an anchor below was signed again above others still in flight; sending this one after them',
      );
      return;
    case 'nonce-used-meanwhile':
      log.info(
        { batchId: batch.id, txHash: batch.tx_hash, err: (pass.rebroadcast!.error as Error).message },
        'sent again, the node says its nonce is used; looking again next pass',
      );
      return;
    default:
      return;
  }
}

function logSignAgain(
  log: Logger,
  batch: BatchRow,
  action: Extract<Action, { act: 'sign-again' }>,
  pass: Pass,
): void {
  switch (action.why) {
    case 'reverted':
      log.warn({ batchId: batch.id, txHash: batch.tx_hash }, 'anchor transaction reverted; will sign again');
      return;
    case 'fees-refused':
      log.warn(
        { batchId: batch.id, err: (pass.rebroadcast!.error as Error).message },
        'rebroadcast refused for its fees; will sign again',
      );
      return;
    case 'nonce-taken':
      log.warn(
        { batchId: batch.id, txHash: batch.tx_hash, nonce: action.nonce, minedNonce: action.minedNonce },
        "another transaction used the anchor transaction's nonce; will sign again",
      );
      return;
    case 'nonce-gap':
      log.warn(
        { batchId: batch.id, txHash: batch.tx_hash, nonce: action.nonce, pendingNonce: action.pendingNonce },
        'anchor transaction waits behind a nonce gap; will sign again',
      );
      return;
    case 'adopted-then-reorged':
      return;
  }
}

/** How a send went, and the error to report when the node did not take the transaction. */
interface Sent {
  result: BroadcastResult;
  error: unknown;
}

/** Sends a signed transaction and classifies how it went (a refusal is counted); never rejects. */
async function send(deps: AnchorerDeps, rawTx: Hex): Promise<Sent> {
  try {
    const outcome = await deps.chain.broadcast(rawTx);
    if ('error' in outcome) deps.figures?.refused(outcome.kind);
    return { result: outcome.kind, error: 'error' in outcome ? outcome.error : null };
  } catch (err) {
    return { result: 'transport-error', error: err };
  }
}

/**
 * Sends a transaction just saved. It is saved, so whatever the node says, the next pass decides from
 * the chain's state (it sends it again, or signs anew). The step fails only when the node gave no
 * answer or the account cannot pay, so the loop backs off; a refusal for its nonce or fees is logged.
 */
async function sendFresh(deps: AnchorerDeps, batch: BatchRow, rawTx: Hex): Promise<void> {
  const sent = await send(deps, rawTx);
  if (nodeHolds(sent.result)) return;
  if (sent.result === 'transport-error' || sent.result === 'insufficient-funds') throw sent.error;
  deps.log.warn(
    { batchId: batch.id, txHash: batch.tx_hash, err: (sent.error as Error).message, refusal: sent.result },
    'the node refused the anchor transaction just signed; the next pass decides from the chain',
  );
}

/**
 * Moves the batch from the state it was read in to `to`, only if it is still there and we still
 * hold the lease, and returns it as saved; else forgets the lease and throws LeaseLostError.
 */
async function save(
  deps: AnchorerDeps,
  batch: BatchRow,
  to: BatchStatus,
  change: BatchChange,
): Promise<BatchRow> {
  const fence = deps.fence();
  if (fence === null) throw new LeaseLostError('not the leader');
  if (await deps.batches.transition(batch.id, batch.status, to, change, fence)) {
    return { ...batch, ...change, status: to };
  }
  deps.onLeaseLost();
  throw new LeaseLostError(`batch ${batch.id}: lease lost or batch changed under us; stepping down`);
}
