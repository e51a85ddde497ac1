/**
 * item.final: tells merchants which of their records' events became final. The batch's turn to
 * final is the change reported, and its row is the outbox: a worker (any instance) finds final
 * batches not yet wholly announced and, one page of leaves per transaction, enqueues one message per
 * merchant with events in that page and moves the batch's announcement on by compare-and-set. So a
 * batch that is final is announced exactly once (a racing worker's page writes nothing), and one
 * that is not is never announced, without the anchorer knowing about webhooks.
 *
 * Why a message per batch and merchant rather than per record: records become final together, one
 * batch at a time (a batch holds up to BATCH_MAX_LEAVES events, more when anchoring is behind); one
 * message per record would be thousands of requests per batch to each endpoint, and as many rows in
 * the outbox, to say one thing. Pages of ITEM_FINAL_PAGE_LEAVES leaves bound a message's size and a
 * transaction's work however large the batch.
 */
import { iso, type ServiceContext } from '../context.ts';
import type { BatchEventRef, BatchRow } from '../../storage/rows.ts';
import type { Stores } from '../../storage/storage.ts';
import type { WebhookEvent } from './events.ts';
import { enqueueWebhook } from './outbox.ts';

/** Leaves per page of a batch's announcement, so per item.final message at most. */
export const ITEM_FINAL_PAGE_LEAVES = 1000;

/**
 * Announces up to `maxPages` pages of final batches not yet wholly announced, oldest batch first.
 * Returns how many pages this call announced (a page a racing worker took first is not counted).
 */
export async function announceFinalBatches(ctx: ServiceContext, maxPages: number): Promise<number> {
  let announced = 0;
  while (announced < maxPages) {
    const [next] = await ctx.storage.webhooks.unannouncedFinalBatches(1);
    if (!next) return announced;
    const done = await ctx.storage.transaction((tx) => announcePage(tx, iso(ctx), next.batch, next.nextLeaf));
    // Lost to another worker: it moved the batch on, so the next read sees where it is now.
    if (done) announced++;
  }
  return announced;
}

/** One page from leaf `from`: the messages and the move of the announcement, or nothing if it lost. */
async function announcePage(tx: Stores, at: string, batch: BatchRow, from: number): Promise<boolean> {
  const events = await tx.webhooks.batchEvents(batch.id, from, ITEM_FINAL_PAGE_LEAVES);
  // A batch's leaves are 0..leaf_count-1; an empty page can only mean there is nothing past `from`.
  const to = events.length === 0 ? batch.leaf_count : from + events.length;
  if (!(await tx.webhooks.advanceAnnouncement(batch.id, from, to))) return false;
  for (const [merchantId, own] of byMerchant(events)) {
    await enqueueWebhook(tx, at, merchantId, itemFinal(batch, from, merchantId, own));
  }
  return true;
}

function itemFinal(batch: BatchRow, from: number, merchantId: string, events: BatchEventRef[]): WebhookEvent {
  const records = new Map<
    string,
    { id: string; externalId: string; events: { seq: number; type: string }[] }
  >();
  for (const e of events) {
    let record = records.get(e.record_id);
    if (!record)
      records.set(e.record_id, (record = { id: e.record_id, externalId: e.external_id, events: [] }));
    record.events.push({ seq: e.seq, type: e.type });
  }
  return {
    type: 'item.final',
    data: {
      merchantId,
      batch: {
        id: batch.id,
        root: batch.root,
        txHash: batch.tx_hash,
        blockNumber: batch.block_number,
        // Set whenever a batch turns final (the anchorer's finalize).
        finalAt: batch.final_at!,
      },
      part: Math.floor(from / ITEM_FINAL_PAGE_LEAVES) + 1,
      parts: Math.max(1, Math.ceil(batch.leaf_count / ITEM_FINAL_PAGE_LEAVES)),
      records: [...records.values()],
    },
  };
}

/** The events grouped by their record's merchant, each group in leaf order. */
function byMerchant(events: readonly BatchEventRef[]): Map<string, BatchEventRef[]> {
  const groups = new Map<string, BatchEventRef[]>();
  for (const e of events) {
    const group = groups.get(e.merchant_id);
    if (group) group.push(e);
    else groups.set(e.merchant_id, [e]);
  }
  return groups;
}
