/**
 * An operator's erasure of one event's content, for data that should never have been published
 * (a buyer's name in event data, say). The stored content is replaced by a tombstone naming who
 * erased it and when; the event's leaf, its place in its batch and every proof stay as they were,
 * so the record's other events and every other record still verify on chain. The erased event's own
 * bundle now carries the tombstone and no longer verifies: nobody can show what it said, which is
 * the point. The content's random salt is what makes this safe: without it, the leaf on record
 * could be matched against guesses of the erased text.
 *
 * The issuance (seq 0) cannot be erased: it is what identifies the item and what the verdict rests
 * on; an item that should not be shown is revoked instead.
 */
import { canonicalJson } from '../core/index.ts';
import { iso, type ServiceContext } from './context.ts';
import { assertDisplayable } from './display-text.ts';
import { conflict, notFound } from './errors.ts';

/** Who erased an event's content, and when. */
export interface Erasure {
  at: string;
  by: string;
}

export interface ErasedEvent {
  recordId: string;
  seq: number;
  type: string;
  erased: Erasure;
}

/** The tombstone in `content` (parsed event content), or null when the content is the original. */
export function erasureOf(content: Record<string, unknown>): Erasure | null {
  const erased = content.erased;
  if (typeof erased !== 'object' || erased === null) return null;
  const { at, by } = erased as Partial<Erasure>;
  return typeof at === 'string' && typeof by === 'string' ? { at, by } : null;
}

/**
 * Replaces the content of event `seq` of `recordId` with a tombstone `{type, at, erased: {at, by}}`
 * (the event's type and time are kept: they describe the item's history, not a person). 400
 * unsafe_text or blank_text for a `by` the page could not show; 404 record_not_found or
 * event_not_found; 409 issuance_not_erasable for seq 0. Erasing an erased event again changes
 * nothing and answers as the first time.
 */
export async function eraseEvent(
  ctx: ServiceContext,
  recordId: string,
  seq: number,
  by: string,
): Promise<ErasedEvent> {
  assertDisplayable([['by', by]]);
  return ctx.storage.transaction(async (tx) => {
    const events = await tx.events.ofRecord(recordId);
    if (events.length === 0) throw notFound('record_not_found', `no record with id ${recordId}`);
    const event = events.find((e) => e.seq === seq);
    if (!event) throw notFound('event_not_found', `record ${recordId} has no event ${seq}`);
    if (seq === 0) {
      throw conflict(
        'issuance_not_erasable',
        'the issuance identifies the item and cannot be erased; revoke the item instead',
      );
    }
    const content = JSON.parse(event.content) as Record<string, unknown>;
    const already = erasureOf(content);
    if (already) return { recordId, seq, type: event.type, erased: already };
    const erased: Erasure = { at: iso(ctx), by };
    const tombstone = { type: event.type, at: content.at ?? event.created_at, erased };
    await tx.events.replaceContent(recordId, seq, canonicalJson(tombstone));
    return { recordId, seq, type: event.type, erased };
  });
}
