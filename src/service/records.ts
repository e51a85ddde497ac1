/** Reading records: a record, its merchant, and its events with where each one's batch stands. */
import type { EventWithBatch, MerchantRow, RecordRow } from '../storage/rows.ts';
import type { ServiceContext } from './context.ts';
import { notFound } from './errors.ts';

/** 404 record_not_found when there is no such record. */
export async function getRecord(ctx: ServiceContext, recordId: string): Promise<RecordRow> {
  const record = await ctx.storage.records.get(recordId);
  if (!record) throw notFound('record_not_found', `no record with id ${recordId}`);
  return record;
}

/** A record and its merchant in one read: the verdict's first read. */
export function findRecordWithMerchant(
  ctx: ServiceContext,
  recordId: string,
): Promise<{ record: RecordRow; merchant: MerchantRow } | undefined> {
  return ctx.storage.records.getWithMerchant(recordId);
}

/** The record's events in seq order (none when there is no such record). */
export function recordEvents(ctx: ServiceContext, recordId: string): Promise<EventWithBatch[]> {
  return ctx.storage.events.ofRecord(recordId);
}
