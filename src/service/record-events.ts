/**
 * Lifecycle events after issuance: each is a leaf chained to the one before, allowed or refused by
 * the rules of src/core/lifecycle.ts. Like issuance, an event waits unbatched for the batcher.
 */
import { canonicalJson, nextHead, type EventType, type Hex } from '../core/index.ts';
import { isDuplicateKey } from '../storage/errors.ts';
import type { EventRow } from '../storage/rows.ts';
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
  type: EventType,
  data: Record<string, unknown> | undefined,
): Promise<EventRow> {
  const limits = ctx.recordLimits;
  const dataBytes = Buffer.byteLength(canonicalJson(data ?? {}), 'utf8');
  if (dataBytes > limits.maxEventDataBytes) {
    throw new ServiceError(
      413,
      'event_data_too_large',
      `event data is ${dataBytes} bytes as canonical JSON; at most ${limits.maxEventDataBytes} are kept`,
    );
  }
  try {
    return await ctx.storage.transaction(async (tx) => {
      const record = await tx.records.get(recordId);
      if (!record) throw notFound('record_not_found', `no record with id ${recordId}`);
      if (record.merchant_id !== merchant.id) {
        throw forbidden('not_record_owner', 'only the merchant that issued a record may add its events');
      }
      // head_seq counts from the issuance at 0: the record holds head_seq + 1 events.
      if (record.head_seq + 1 >= limits.maxEvents) {
        throw conflict(
          'record_event_limit',
          `the record holds ${record.head_seq + 1} events, the most one record may hold; no more can be added`,
        );
      }
      const head = nextHead(
        { state: record.state, sold: record.sold === 1, activated: record.activated === 1 },
        type,
      );
      if ('violation' in head) throw conflict('lifecycle_violation', head.violation);

      const prevLeaf = await tx.events.leafAt(recordId, record.head_seq);
      if (prevLeaf === undefined) throw new Error(`record ${recordId} has no event ${record.head_seq}`);
      const at = iso(ctx);
      const content = { type, data: data ?? {}, at, salt: randomSalt() };
      const contentJson = canonicalJson(content);
      const seq = record.head_seq + 1;
      const event: EventRow = {
        record_id: recordId,
        seq,
        type,
        content: contentJson,
        leaf: leafOfJson(recordId, seq, prevLeaf as Hex, contentJson),
        prev_leaf: prevLeaf,
        created_at: at,
        batch_id: null,
        leaf_index: null,
      };
      await tx.events.insertMany([event]);
      const advanced = await tx.records.advanceHead(recordId, record.head_seq, {
        head_seq: seq,
        state: head.state,
        sold: head.sold ? 1 : 0,
        activated: head.activated ? 1 : 0,
      });
      if (!advanced) throw conflict('concurrent_event', 'another event was added at once');
      // An ended record frees its key and serial for a re-issue by its merchant (uniqueness.ts).
      if (head.state !== 'active') await tx.uniqueKeys.endRecord(recordId);
      return event;
    });
  } catch (err) {
    // The (record_id, seq) key decides between two events racing for the same place in the chain.
    if (isDuplicateKey(err))
      throw conflict('concurrent_event', 'another event was added at the same time; retry');
    throw err;
  }
}
