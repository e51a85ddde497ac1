/**
 * Lifecycle events after issuance: each is a leaf chained to the one before, allowed or refused by
 * the rules of src/core/lifecycle.ts. Like issuance, an event waits unbatched for the batcher.
 */
import {
  canonicalJson,
  nextHead,
  type EventType,
  type Hex,
  type LifecycleHead,
  type MerchantEventType,
} from '../core/index.ts';
import { isDuplicateKey } from '../storage/errors.ts';
import type { EventRow, RecordHead, RecordRow } from '../storage/rows.ts';
import type { Stores } from '../storage/storage.ts';
import { iso, type ServiceContext } from './context.ts';
import { conflict, forbidden, notFound, ServiceError } from './errors.ts';
import { leafOfJson } from './leaves.ts';
import type { Merchant } from './merchants.ts';
import { randomSalt } from './random.ts';

/**
 * Appends event `type` to the merchant's own record: 413 event_data_too_large for `data` over the
 * limit, 404 for no such record, 403 for another merchant's, 409 record_event_limit for a record that
 * holds its most events, 409 lifecycle_violation for a step the lifecycle refuses, 409
 * concurrent_event when another event took this place in the chain first. A refusal writes nothing.
 */
export async function appendEvent(
  ctx: ServiceContext,
  merchant: Merchant,
  recordId: string,
  type: MerchantEventType,
  data: Record<string, unknown> | undefined,
): Promise<EventRow> {
  refuseLargeData(ctx, data);
  return inEventTransaction(ctx, async (tx) => {
    const record = await tx.records.get(recordId);
    if (!record) throw notFound('record_not_found', `no record with id ${recordId}`);
    if (record.merchant_id !== merchant.id) {
      throw forbidden('not_record_owner', 'only the merchant that issued a record may add its events');
    }
    return (await appendInTransaction(ctx, tx, record, type, data, 'merchant')).event;
  });
}

/** 413 event_data_too_large for `data` over MAX_EVENT_DATA_BYTES as canonical JSON. */
export function refuseLargeData(ctx: ServiceContext, data: Record<string, unknown> | undefined): void {
  const limit = ctx.recordLimits.maxEventDataBytes;
  const dataBytes = Buffer.byteLength(canonicalJson(data ?? {}), 'utf8');
  if (dataBytes > limit) {
    throw new ServiceError(
      413,
      'event_data_too_large',
      `event data is ${dataBytes} bytes as canonical JSON; at most ${limit} are kept`,
    );
  }
}

/**
 * Runs `work` in a storage transaction, turning a lost race for a place in a record's chain (the
 * (record_id, seq) key) into 409 concurrent_event.
 */
export async function inEventTransaction<T>(
  ctx: ServiceContext,
  work: (tx: Stores) => Promise<T>,
): Promise<T> {
  try {
    return await ctx.storage.transaction(work);
  } catch (err) {
    if (isDuplicateKey(err))
      throw conflict('concurrent_event', 'another event was added at the same time; retry');
    throw err;
  }
}

/**
 * Events an after-sale step (a buyer's reveal, a dispute's steps, a decision's refund) may add past
 * MAX_EVENTS_PER_RECORD: a merchant's own events stop at the limit, so a merchant who fills a record
 * with events cannot shut its buyer out of after-sales. Room for five disputes opened, answered and
 * decided, with the reveal; buyers' disputes are bounded by possession and one open at a time.
 */
export const AFTER_SALE_RESERVE = 16;

/**
 * The most events a dispute adds to its record: opened, answered, decided, refunded. It opens only
 * with room for all of them and for a first reveal still to come, so neither the buyer's reveal nor
 * the dispute's answer and decision can be refused for want of room while it is open.
 */
export const DISPUTE_COURSE = 4;

/** Who an event is added for: the merchant's own events, or an after-sale step the service takes. */
export type EventAuthor = 'merchant' | 'after-sale';

/**
 * Appends one event to `record` inside `tx` (whoever may add it was checked by the caller) and returns
 * it with the record as it now is: 409 record_event_limit, lifecycle_violation or concurrent_event as
 * appendEvent. The data size is the caller's to check first (refuseLargeData), before any write.
 * `room` is how many events must still fit, this one included: a step that starts a course of steps
 * (a dispute) asks for room for all of them, so that none of its later steps can be refused.
 */
export async function appendInTransaction(
  ctx: ServiceContext,
  tx: Stores,
  record: RecordRow,
  type: EventType,
  data: Record<string, unknown> | undefined,
  by: EventAuthor,
  room = 1,
): Promise<{ event: EventRow; record: RecordRow }> {
  const limit = ctx.recordLimits.maxEvents + (by === 'after-sale' ? AFTER_SALE_RESERVE : 0);
  // head_seq counts from the issuance at 0: the record holds head_seq + 1 events.
  if (record.head_seq + 1 + room > limit) {
    throw conflict(
      'record_event_limit',
      by === 'merchant'
        ? `the record holds ${record.head_seq + 1} events, the most one record may hold; no more can be added`
        : `the record holds ${record.head_seq + 1} events, the most one record may hold with its after-sale steps`,
    );
  }
  const head = nextHead(headOf(record), type);
  if ('violation' in head) throw conflict('lifecycle_violation', head.violation);

  const prevLeaf = await tx.events.leafAt(record.id, record.head_seq);
  if (prevLeaf === undefined) throw new Error(`record ${record.id} has no event ${record.head_seq}`);
  const at = iso(ctx);
  const content = { type, data: data ?? {}, at, salt: randomSalt() };
  const contentJson = canonicalJson(content);
  const seq = record.head_seq + 1;
  const event: EventRow = {
    record_id: record.id,
    seq,
    type,
    content: contentJson,
    leaf: leafOfJson(record.id, seq, prevLeaf as Hex, contentJson),
    prev_leaf: prevLeaf,
    created_at: at,
    batch_id: null,
    leaf_index: null,
  };
  await tx.events.insertMany([event]);
  const stored: RecordHead = {
    head_seq: seq,
    state: head.state,
    sold: head.sold ? 1 : 0,
    activated: head.activated ? 1 : 0,
    revealed: head.revealed ? 1 : 0,
    dispute: head.dispute,
  };
  const advanced = await tx.records.advanceHead(record.id, record.head_seq, stored);
  if (!advanced) throw conflict('concurrent_event', 'another event was added at once');
  // An ended record frees its key and serial for a re-issue by its merchant (uniqueness.ts).
  if (head.state !== 'active') await tx.uniqueKeys.endRecord(record.id);
  return { event, record: { ...record, ...stored } };
}

/** The lifecycle head a stored record holds. */
export function headOf(record: RecordRow): LifecycleHead {
  return {
    state: record.state,
    sold: record.sold === 1,
    activated: record.activated === 1,
    revealed: record.revealed === 1,
    dispute: record.dispute,
  };
}
