/**
 * What a consumer is told when they scan an item's code. `genuine` needs the issuance to be in a
 * final batch whose root was read back from the chain, and the stored proof to reach that root.
 */
import type { Logger } from 'pino';
import { processProof, type Hex } from '../core/index.ts';
import type { AnchorChain } from '../chain/registry.ts';
import type { EventWithBatch, MerchantRow, RecordRow } from '../storage/rows.ts';
import { anchorStatusOf } from './anchor-view.ts';
import { proofOfEvent } from './batches.ts';
import { iso, type ServiceContext } from './context.ts';
import { findRecordWithMerchant, issuanceOf } from './records.ts';
import type { ScanRequest } from './scanners.ts';
import type { ScanStats } from './scans.ts';
import { uniquenessOf, type Uniqueness } from './uniqueness.ts';

export const VERDICTS = [
  'genuine',
  'pending',
  'revoked',
  'merchant_suspended',
  'not_found',
  'invalid',
] as const;
export type VerdictWord = (typeof VERDICTS)[number];

export { SUSPICIOUS_SCANS, type ScanStats } from './scans.ts';

export interface Verdict {
  verdict: VerdictWord;
  recordId: string;
  reason: string;
  record?: RecordRow;
  merchant?: MerchantRow;
  /** The record's issuance: with the record's state, all a verdict reads of its lifecycle. */
  issuance?: EventWithBatch;
  scans?: ScanStats;
  /**
   * The service's statement about the record's key (uniqueness.ts): `registered-once` (no other live
   * record on the platform holds it), `no-secret` (the record has no key), `not-covered` (registered
   * before the index existed).
   */
  uniqueness?: Uniqueness;
  /** The ended record of the same merchant this one re-issues, or null. */
  reissueOf?: string | null;
}

/**
 * The verdict for `recordId`. `opts.scan` is the request when it may count as a scan of the code
 * (service/scans.ts decides whether it does); null when it is not a scan at all (a key check).
 */
export async function verdictFor(
  ctx: ServiceContext,
  chain: AnchorChain,
  log: Logger,
  recordId: string,
  opts: { scan: ScanRequest | null },
): Promise<Verdict> {
  const found = await findRecordWithMerchant(ctx, recordId);
  if (!found) return { verdict: 'not_found', recordId, reason: 'no item was registered under this code' };
  const { record, merchant } = found;
  // The issuance and the record's state, never the whole lifecycle: a long one costs nothing here.
  const [issuance, scans, unique] = await Promise.all([
    issuanceOf(ctx, recordId),
    opts.scan ? ctx.scans.count(recordId, opts.scan, iso(ctx)) : ctx.scans.stats(recordId),
    uniquenessOf(ctx.storage, recordId),
  ]);
  if (!issuance) throw new Error(`record ${recordId} has no issuance event`);
  const base = { recordId, record, merchant, issuance, scans, ...unique };
  if (merchant.status === 'suspended') {
    return {
      ...base,
      verdict: 'merchant_suspended',
      reason: 'the merchant that issued this item is suspended',
    };
  }
  if (record.state !== 'active') {
    return { ...base, verdict: 'revoked', reason: `the item was ${record.state}` };
  }
  if (anchorStatusOf(issuance.batch_status) !== 'final') {
    return { ...base, verdict: 'pending', reason: 'the issuance is not yet anchored and final on chain' };
  }
  const chainRoot = (issuance.chain_root as Hex | null) ?? (await chain.rootOf(issuance.batch_id!));
  const proof = await proofOfEvent(ctx, issuance);
  if (processProof(issuance.leaf as Hex, proof) !== chainRoot) {
    log.error({ recordId, batchId: issuance.batch_id }, 'stored proof does not reach the root on chain');
    return { ...base, verdict: 'invalid', reason: 'the stored proof does not match the root on chain' };
  }
  return {
    ...base,
    verdict: 'genuine',
    reason: 'issued by a merchant in good standing and anchored on chain',
  };
}
