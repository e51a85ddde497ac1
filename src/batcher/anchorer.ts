/**
 * Moves sealed batches onto the chain: sealed -> submitted -> anchored -> final. What to do is
 * decided in decide.ts; this is the I/O around it: it reads from the chain what a decision asks
 * for, performs the action decided, and saves each state change through BatchStore.transition,
 * fenced by the anchorer lease. Each state is saved before the step that depends on it (the signed
 * transaction is saved before it is broadcast), so a crash anywhere resumes without anchoring a
 * batch id twice; the contract's ordering is the last guard.
 */
import type { Logger } from 'pino';
import type { AnchorChain } from '../chain/registry.ts';
import type { Hex } from '../core/index.ts';
import type { BatchChange, BatchRow, BatchStatus, LeaseFence } from '../storage/rows.ts';
import type { BatchStore } from '../storage/storage.ts';
import type { AnchorMetrics } from '../observability/metrics.ts';
import { crashPoint } from './crash-points.ts';
import {
  batchesToAdvance,
  decide,
  nodeHolds,
  type Action,
  type AnchorPolicy,
  type BroadcastResult,
  type Observation,
  type Observed,
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
  /** CONFIRMATIONS: how many blocks deep, the anchoring block included, a batch is final. */
  confirmations: number;
  log: Logger;
  now(): Date;
  /** Where mined anchors (gas, fees) and RPC errors are counted; unset: nowhere. */
  metrics?: AnchorMetrics;
}

/** Advances every unfinished batch by as many steps as it can take now; returns how many moved. */
export async function advanceBatches(deps: AnchorerDeps): Promise<number> {
  const open = await deps.batches.unfinished();
  let moved = 0;
  for (const batch of batchesToAdvance(open)) {
    if (await advance(deps, batch)) moved++;
  }
  return moved;
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
  const [newest] = await deps.batches.newestFinal(1);
  if (!newest || !(await advance(deps, newest))) return 0;
  let demoted = 1;
  for (;;) {
    // Demoted batches leave the final set, so each page starts again from the newest left.
    const page = await deps.batches.newestFinal(FINAL_PAGE);
    for (const batch of page) {
      if (!(await advance(deps, batch))) return demoted;
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
 * Returns whether the batch's state changed.
 */
async function advance(deps: AnchorerDeps, batch: BatchRow): Promise<boolean> {
  const policy: AnchorPolicy = { finality: { kind: 'depth', blocks: deps.confirmations } };
  const pass: Pass = { seen: {}, rebroadcast: null };
  for (;;) {
    const step = decide(batch, pass.seen, policy);
    if (!('observe' in step)) return perform(deps, batch, step, pass);
    await observe(deps.chain, batch, step.observe, pass);
  }
}

async function observe(chain: AnchorChain, batch: BatchRow, what: Observation, pass: Pass): Promise<void> {
  const { seen } = pass;
  switch (what) {
    case 'nextBatchId':
      seen.nextBatchId = await chain.nextBatchId();
      return;
    case 'receipt':
      seen.receipt = await chain.receipt(batch.tx_hash as Hex);
      return;
    case 'rebroadcast':
      pass.rebroadcast = await send(chain, batch.raw_tx as Hex);
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
      seen.head = await chain.headNumber();
      return;
    case 'chainRoot':
      seen.chainRoot = await chain.rootOf(batch.id);
      return;
    case 'anchorEvent':
      seen.anchorEvent = await chain.findAnchor(batch.id);
      return;
  }
}

async function perform(deps: AnchorerDeps, batch: BatchRow, action: Action, pass: Pass): Promise<boolean> {
  const { chain, log } = deps;
  switch (action.act) {
    case 'send': {
      const { rawTx, txHash } = await chain.signAnchor(batch.id, batch.root as Hex, batch.leaf_count);
      await save(deps, batch, 'submitted', { raw_tx: rawTx, tx_hash: txHash });
      log.info(
        { batchId: batch.id, txHash, leaves: batch.leaf_count },
        'anchor transaction saved; broadcasting',
      );
      crashPoint('after-sign');
      await sendFresh(chain, rawTx);
      crashPoint('after-broadcast');
      return true;
    }
    case 'mark-anchored':
      deps.metrics?.anchorMined(action.receipt);
      crashPoint('after-mined');
      await markAnchored(deps, batch, batch.tx_hash as Hex, batch.raw_tx, action.receipt);
      return true;
    case 'adopt':
      log.info({ batchId: batch.id, txHash: action.anchor.txHash }, 'batch found already anchored on chain');
      await markAnchored(deps, batch, action.anchor.txHash, null, action.anchor);
      return true;
    case 'sign-again':
      logSignAgain(log, batch, action, pass);
      await save(deps, batch, 'sealed', { raw_tx: null, tx_hash: null });
      return true;
    case 'replace': {
      const replacement = await chain.signReplacement(batch.raw_tx as Hex, action.baseFee);
      await save(deps, batch, 'submitted', { raw_tx: replacement.rawTx, tx_hash: replacement.txHash });
      log.warn(
        { batchId: batch.id, replaced: batch.tx_hash, txHash: replacement.txHash },
        'anchor transaction underpriced after a base fee rise; replaced it at the same nonce with higher fees',
      );
      await sendFresh(chain, replacement.rawTx);
      return true;
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
      await save(deps, batch, 'submitted', {
        block_number: null,
        block_hash: null,
        anchored_at: null,
        final_at: null,
        chain_root: null,
      });
      return true;
    case 'finalize':
      await save(deps, batch, 'final', { final_at: deps.now().toISOString(), chain_root: action.chainRoot });
      log.info({ batchId: batch.id, block: batch.block_number }, 'batch final');
      return true;
    case 'wait':
      if (action.why === 'earlier-batch-not-on-chain') {
        log.warn(
          { batchId: batch.id, chainNext: pass.seen.nextBatchId },
          'an earlier batch is not on chain yet',
        );
      }
      return false;
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
): Promise<void> {
  await save(deps, batch, 'anchored', {
    tx_hash: txHash,
    raw_tx: rawTx,
    block_number: block.blockNumber,
    block_hash: block.blockHash,
    anchored_at: deps.now().toISOString(),
  });
  deps.log.info({ batchId: batch.id, txHash, block: block.blockNumber }, 'batch anchored');
  crashPoint('after-anchored');
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
    case 'rebroadcast-refused':
      log.warn(
        { batchId: batch.id, err: (pass.rebroadcast!.error as Error).message },
        'rebroadcast refused; will sign again',
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

/** Sends a signed transaction and classifies how it went; never rejects. */
async function send(chain: AnchorChain, rawTx: Hex): Promise<Sent> {
  try {
    const outcome = await chain.broadcast(rawTx);
    return { result: outcome.kind, error: 'error' in outcome ? outcome.error : null };
  } catch (err) {
    return { result: 'transport-error', error: err };
  }
}

/**
 * Sends a transaction just saved; if the node does not take it, the step fails with its error. The
 * transaction is saved, so the next pass decides from there (it sends it again, or signs anew).
 */
async function sendFresh(chain: AnchorChain, rawTx: Hex): Promise<void> {
  const sent = await send(chain, rawTx);
  if (!nodeHolds(sent.result)) throw sent.error;
}

/**
 * Moves the batch from the state it was read in to `to`, only if it is still there and we still
 * hold the lease; else forgets the lease and throws LeaseLostError.
 */
async function save(
  deps: AnchorerDeps,
  batch: BatchRow,
  to: BatchStatus,
  change: BatchChange,
): Promise<void> {
  const fence = deps.fence();
  if (fence === null) throw new LeaseLostError('not the leader');
  if (await deps.batches.transition(batch.id, batch.status, to, change, fence)) return;
  deps.onLeaseLost();
  throw new LeaseLostError(`batch ${batch.id}: lease lost or batch changed under us; stepping down`);
}
