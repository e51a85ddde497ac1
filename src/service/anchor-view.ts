/**
 * Where an event's anchor stands, as readers are told: the one place that decides when a batch's
 * chain fields may be shown. The API's records, bundles, batches and verdicts all read it here.
 */
import type { AnchorStatus } from '../core/index.ts';
import type { BatchStatus, EventWithBatch } from '../storage/rows.ts';

/** pending while unbatched, sealed or submitted; anchored and final as the batch is. */
export function anchorStatusOf(batchStatus: BatchStatus | null | undefined): AnchorStatus {
  if (batchStatus === 'final') return 'final';
  if (batchStatus === 'anchored') return 'anchored';
  return 'pending';
}

export interface AnchorFields {
  status: AnchorStatus;
  batchId: number | null;
  txHash: string | null;
  blockNumber: number | null;
}

/**
 * The anchor fields a reader may see: the batch, transaction and block only once the batch is on
 * chain (anchored or final). Before that they are null: a submitted transaction may still be
 * replaced, dropped or signed again, so its hash is no evidence yet.
 */
export function anchorFields(
  batchStatus: BatchStatus | null | undefined,
  onChain: { batchId: number | null; txHash: string | null; blockNumber: number | null },
): AnchorFields {
  const status = anchorStatusOf(batchStatus);
  const shown = status !== 'pending';
  return {
    status,
    batchId: shown ? onChain.batchId : null,
    txHash: shown ? onChain.txHash : null,
    blockNumber: shown ? onChain.blockNumber : null,
  };
}

/** The anchor fields of an event, from the batch that holds it. */
export function eventAnchor(event: EventWithBatch): AnchorFields {
  return anchorFields(event.batch_status, {
    batchId: event.batch_id,
    txHash: event.tx_hash,
    blockNumber: event.block_number,
  });
}
