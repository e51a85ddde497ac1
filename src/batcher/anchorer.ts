/**
 * Moves sealed batches onto the chain: sealed -> submitted -> anchored -> final. Each state is saved
 * before the step that depends on it (the signed transaction is saved before it is broadcast), so a
 * crash anywhere resumes without anchoring a batch id twice; the contract's ordering is the last guard.
 */
import { Transaction } from 'ethers';
import type { Logger } from 'pino';
import type { AnchorChain } from '../chain/registry.ts';
import { isRefusedForNonceOrFee } from '../chain/rpc-provider.ts';
import type { Hex } from '../core/index.ts';
import type { BatchChange, BatchRow, BatchStatus } from '../storage/rows.ts';
import type { BatchStore } from '../storage/storage.ts';
import { crashPoint } from './crash-points.ts';
import type { Lease } from './lease.ts';

/** The chain holds a different root for a batch id than the database: anchoring must stop. */
export class AnchorConflictError extends Error {
  override name = 'AnchorConflictError';
}

export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}

export interface AnchorerDeps {
  batches: BatchStore;
  chain: AnchorChain;
  lease: Lease;
  confirmations: number;
  log: Logger;
  now(): Date;
}

/** Advances every unfinished batch by as many steps as it can take now; returns how many moved. */
export async function advanceBatches(deps: AnchorerDeps): Promise<number> {
  const open = await deps.batches.unfinished();
  let moved = 0;
  for (const batch of open) {
    // Only the lowest batch not yet on chain may be sent: ids are gapless on the contract.
    if (batch.status === 'sealed' || batch.status === 'submitted') {
      if (open.some((b) => b.id < batch.id && (b.status === 'sealed' || b.status === 'submitted'))) continue;
    }
    if (await advance(deps, batch)) moved++;
  }
  return moved;
}

async function advance(deps: AnchorerDeps, batch: BatchRow): Promise<boolean> {
  const { chain, log } = deps;
  switch (batch.status) {
    case 'sealed': {
      const next = await chain.nextBatchId();
      if (next > batch.id) return adoptChainAnchor(deps, batch);
      if (next < batch.id) {
        log.warn({ batchId: batch.id, chainNext: next }, 'an earlier batch is not on chain yet');
        return false;
      }
      const { rawTx, txHash } = await chain.signAnchor(batch.id, batch.root as Hex, batch.leaf_count);
      await save(deps, batch, { status: 'submitted', raw_tx: rawTx, tx_hash: txHash });
      log.info(
        { batchId: batch.id, txHash, leaves: batch.leaf_count },
        'anchor transaction saved; broadcasting',
      );
      crashPoint('after-sign');
      await chain.broadcast(rawTx);
      crashPoint('after-broadcast');
      return true;
    }
    case 'submitted': {
      const receipt = await chain.receipt(batch.tx_hash as Hex);
      if (receipt?.status === 'success') {
        crashPoint('after-mined');
        return markAnchored(deps, batch, batch.tx_hash as Hex, receipt.blockNumber, receipt.blockHash);
      }
      if ((await chain.nextBatchId()) > batch.id) return adoptChainAnchor(deps, batch);
      if (receipt?.status === 'reverted') {
        log.warn(
          { batchId: batch.id, txHash: batch.tx_hash },
          'anchor transaction reverted; will sign again',
        );
        await save(deps, batch, { status: 'sealed', raw_tx: null, tx_hash: null });
        return true;
      }
      if (!batch.raw_tx) {
        // Adopted from the chain (we never signed it) and since dropped by a reorg: sign our own.
        await save(deps, batch, { status: 'sealed', tx_hash: null });
        return true;
      }
      try {
        // Idempotent: the node may simply not have it (dropped from its pool, or a restarted node).
        await chain.broadcast(batch.raw_tx as Hex);
      } catch (err) {
        // Only a refusal of this transaction justifies another: out of funds, an unreachable or
        // rate-limiting RPC and the like keep the saved one, sent again on a later pass.
        if (!isRefusedForNonceOrFee(err)) throw err;
        // Typically "nonce too low": the nonce went to another transaction. Sign afresh.
        log.warn({ batchId: batch.id, err: (err as Error).message }, 'rebroadcast refused; will sign again');
        await save(deps, batch, { status: 'sealed', raw_tx: null, tx_hash: null });
        return true;
      }
      if (await resignIfStuckBehindGap(deps, batch)) return true;
      return replaceIfUnderpriced(deps, batch);
    }
    case 'anchored': {
      const canonical = await chain.blockHash(batch.block_number!);
      if (canonical !== batch.block_hash) {
        log.warn(
          { batchId: batch.id, block: batch.block_number },
          'anchor block left the canonical chain; re-anchoring',
        );
        await unanchor(deps, batch);
        return true;
      }
      const head = await chain.headNumber();
      if (head - batch.block_number! + 1 < deps.confirmations) return false;
      const chainRoot = await chain.rootOf(batch.id);
      if (chainRoot !== batch.root) {
        throw new AnchorConflictError(
          `batch ${batch.id}: chain root ${chainRoot} differs from stored ${batch.root}`,
        );
      }
      await save(deps, batch, { status: 'final', final_at: deps.now().toISOString(), chain_root: chainRoot });
      log.info({ batchId: batch.id, block: batch.block_number }, 'batch final');
      return true;
    }
    default:
      return false;
  }
}

/** The chain already holds this batch id (our own send before a crash, or a racing instance's). */
async function adoptChainAnchor(deps: AnchorerDeps, batch: BatchRow): Promise<boolean> {
  const event = await deps.chain.findAnchor(batch.id);
  if (!event || event.root !== batch.root) {
    throw new AnchorConflictError(
      `batch ${batch.id} is anchored on chain with root ${event?.root ?? 'unknown'}, but the database holds ${batch.root}`,
    );
  }
  deps.log.info({ batchId: batch.id, txHash: event.txHash }, 'batch found already anchored on chain');
  return markAnchored(deps, { ...batch, raw_tx: null }, event.txHash, event.blockNumber, event.blockHash);
}

async function markAnchored(
  deps: AnchorerDeps,
  batch: BatchRow,
  txHash: Hex,
  blockNumber: number,
  blockHash: Hex,
): Promise<boolean> {
  await save(deps, batch, {
    status: 'anchored',
    tx_hash: txHash,
    raw_tx: batch.raw_tx,
    block_number: blockNumber,
    block_hash: blockHash,
    anchored_at: deps.now().toISOString(),
  });
  deps.log.info({ batchId: batch.id, txHash, block: blockNumber }, 'batch anchored');
  crashPoint('after-anchored');
  return true;
}

/**
 * A sent transaction whose nonce is above the account's pending nonce waits behind a gap (another
 * holder of the key used a nonce and its transaction was dropped, say) and would never be mined.
 * Sign again at the first free nonce; should the old one ever be mined too, the contract's batch
 * ordering makes it revert instead of anchoring twice.
 */
async function resignIfStuckBehindGap(deps: AnchorerDeps, batch: BatchRow): Promise<boolean> {
  const nonce = Transaction.from(batch.raw_tx!).nonce;
  const pending = await deps.chain.pendingNonce();
  if (pending >= nonce) return false;
  deps.log.warn(
    { batchId: batch.id, txHash: batch.tx_hash, nonce, pendingNonce: pending },
    'anchor transaction waits behind a nonce gap; will sign again',
  );
  await save(deps, batch, { status: 'sealed', raw_tx: null, tx_hash: null });
  return true;
}

/**
 * The base fee rose above what the sent anchor offers, so it cannot be mined: the same transaction at
 * the same nonce with higher fees replaces it (saved first, like every transaction). Whichever of the
 * two is mined, the batch is anchored once: they share a nonce, and the old one is adopted through its
 * BatchAnchored event if it wins.
 */
async function replaceIfUnderpriced(deps: AnchorerDeps, batch: BatchRow): Promise<boolean> {
  const replacement = await deps.chain.replaceUnderpriced(batch.raw_tx as Hex);
  if (!replacement) return false;
  await save(deps, batch, { raw_tx: replacement.rawTx, tx_hash: replacement.txHash });
  deps.log.warn(
    { batchId: batch.id, replaced: batch.tx_hash, txHash: replacement.txHash },
    'anchor transaction underpriced after a base fee rise; replaced it at the same nonce with higher fees',
  );
  await deps.chain.broadcast(replacement.rawTx);
  return true;
}

/** The batch's anchoring block left the canonical chain: back to before it was mined. */
function unanchor(deps: AnchorerDeps, batch: BatchRow): Promise<void> {
  return save(deps, batch, {
    status: 'submitted',
    block_number: null,
    block_hash: null,
    anchored_at: null,
    final_at: null,
    chain_root: null,
  });
}

/**
 * Final is CONFIRMATIONS deep, which a deeper reorg can still undo. The newest final batch's block
 * is checked on every pass (one RPC call): a reorg that reaches any final batch reaches it too. Each
 * final batch whose block left the chain goes back to submitted (its verdicts to pending) and is
 * anchored again. Returns how many were demoted.
 */
export async function recheckFinalBatches(deps: AnchorerDeps): Promise<number> {
  const [newest] = await deps.batches.newestFinal(1);
  if (!newest || (await deps.chain.blockHash(newest.block_number!)) === newest.block_hash) return 0;
  let demoted = 0;
  for (;;) {
    // Demoted batches leave the 'final' set, so each page starts again from the newest left.
    const page = await deps.batches.newestFinal(100);
    for (const batch of page) {
      if ((await deps.chain.blockHash(batch.block_number!)) === batch.block_hash) return demoted;
      deps.log.error(
        { batchId: batch.id, block: batch.block_number },
        'a final batch left the canonical chain (a reorg deeper than CONFIRMATIONS); anchoring it again',
      );
      await unanchor(deps, batch);
      demoted++;
    }
    if (page.length < 100) return demoted;
  }
}

/** A state change, only if the batch is still in the state we read and we still hold the lease. */
async function save(
  deps: AnchorerDeps,
  batch: BatchRow,
  change: BatchChange & { status?: BatchStatus },
): Promise<void> {
  const fence = deps.lease.fence;
  if (fence === null) throw new LeaseLostError('not the leader');
  const { status = batch.status, ...rest } = change;
  if (!(await deps.batches.transition(batch.id, batch.status, status, rest, fence))) {
    deps.lease.abandon();
    throw new LeaseLostError(`batch ${batch.id}: lease lost or batch changed under us; stepping down`);
  }
}
