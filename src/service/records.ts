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

/** The record's first event, its issuance (seq 0), with its batch's state: all a verdict reads of it. */
export async function issuanceOf(ctx: ServiceContext, recordId: string): Promise<EventWithBatch | undefined> {
  const [issuance] = await ctx.storage.events.ofRecordRange(recordId, 0, 0);
  return issuance;
}

/** One page of a record's lifecycle, newest first, and where it sits among the others. */
export interface LifecyclePage {
  /** Newest first. */
  events: EventWithBatch[];
  /** 1 is the newest. */
  page: number;
  pages: number;
  /** Events in the whole lifecycle. */
  total: number;
}

/**
 * Page `page` of `record`'s lifecycle, `perPage` events each, the newest page first; null past the
 * last page. Reads only that page's events, however long the lifecycle (the record's head_seq says
 * how many there are).
 */
export async function lifecyclePage(
  ctx: ServiceContext,
  record: RecordRow,
  page: number,
  perPage: number,
): Promise<LifecyclePage | null> {
  const total = record.head_seq + 1;
  const pages = Math.ceil(total / perPage);
  if (page < 1 || page > pages) return null;
  const toSeq = record.head_seq - (page - 1) * perPage;
  const events = await ctx.storage.events.ofRecordRange(record.id, Math.max(0, toSeq - perPage + 1), toSeq);
  return { events: events.reverse(), page, pages, total };
}
