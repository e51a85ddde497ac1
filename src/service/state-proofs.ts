/**
 * GET /v1/records/:id/state-proof: a record's state under one batch's item-directory root
 * (proofmark.state.v1, src/core/state.ts), with where that root was anchored. By default the batch
 * is the latest anchored one whose state root went on chain, the one a freshness check asks about.
 */
import { STATE_PROOF_FORMAT, type Hex, type StateProofDocument } from '../core/index.ts';
import type { BatchRow } from '../storage/rows.ts';
import type { ServiceContext } from './context.ts';
import { stateProof, type StateProof } from './directory.ts';
import { notFound } from './errors.ts';
import type { ChainIdentity } from './proofs.ts';

export async function stateProofDocument(
  ctx: ServiceContext,
  chain: ChainIdentity,
  recordId: string,
  batchId?: number,
): Promise<StateProofDocument> {
  const { batches } = ctx.storage;
  const batch = batchId === undefined ? await batches.latestAnchoredState() : await batches.get(batchId);
  if (!batch) {
    throw notFound(
      'batch_not_found',
      batchId === undefined ? 'no batch has had its state root anchored yet' : `no batch ${batchId}`,
    );
  }
  const proved = await stateProof(ctx, recordId, batch.id);
  return asStateProofDocument(recordId, proved, stateAnchor(chain, batch, proved.root));
}

/** The proofmark.state.v1 document of a proof read from the directory, with where its root is anchored. */
export function asStateProofDocument(
  recordId: string,
  proved: StateProof,
  anchor: StateProofDocument['anchor'],
): StateProofDocument {
  return {
    format: STATE_PROOF_FORMAT,
    recordId,
    recordKey: proved.recordKey,
    batchId: proved.batchId,
    stateRoot: proved.root,
    anchor,
    value: proved.state,
    proof: proved.proof,
  };
}

/** Where `root` was anchored for `batch`; null while it is not on chain, or was never sent there. */
function stateAnchor(chain: ChainIdentity, batch: BatchRow, root: Hex): StateProofDocument['anchor'] {
  const onChain = batch.status === 'anchored' || batch.status === 'final';
  if (!onChain || batch.state_root !== root || batch.tx_hash === null || batch.block_number === null) {
    return null;
  }
  return {
    chainId: chain.chainId,
    contract: chain.contract,
    txHash: batch.tx_hash as Hex,
    blockNumber: batch.block_number,
  };
}
