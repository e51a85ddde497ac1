/**
 * A merchant's credit figures, derived from what its records' anchored events say: how many items
 * it issued, how many ended revoked or refunded, and how its disputes went. Pure: storage hands in
 * the counts and the dispute events; this decides what they mean.
 *
 * The dispute event types are named here by their wire names so the figures count them as soon as
 * the lifecycle has them (until then there are none, and the figures are zero).
 */

export const DISPUTE_OPENED = 'dispute_opened';
export const DISPUTE_ANSWERED = 'dispute_answered';
export const DISPUTE_DECIDED = 'dispute_decided';
export const DISPUTE_EVENT_TYPES = [DISPUTE_OPENED, DISPUTE_ANSWERED, DISPUTE_DECIDED] as const;

/** The merchant's records: all of them, and those whose lifecycle ended revoked or refunded. */
export interface CreditCounts {
  issued: number;
  revoked: number;
  refunded: number;
}

/** One dispute event of one of the merchant's records, with its anchored content (canonical JSON). */
export interface DisputeEvent {
  recordId: string;
  seq: number;
  type: string;
  content: string;
}

export interface CreditFigures {
  itemsIssued: number;
  revoked: number;
  /** revoked / itemsIssued, rounded to 4 places; null when nothing was issued. */
  revokedShare: number | null;
  refunded: number;
  refundedShare: number | null;
  disputesOpened: number;
  /** Disputes decided for the buyer (`data.decision` 'buyer'). */
  disputesLost: number;
  /** Answered disputes, the ones the median is taken over. */
  disputesAnswered: number;
  /** Median of dispute_opened → dispute_answered, in whole seconds; null when none was answered. */
  medianResponseSeconds: number | null;
}

/** The middle value (mean of the two middle ones for an even count); null for none. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** part / whole to 4 places, null when whole is 0. */
export function share(part: number, whole: number): number | null {
  return whole === 0 ? null : Math.round((part / whole) * 10_000) / 10_000;
}

/** The `at` and `data` of an event's content; nothing for content that does not parse (erased). */
function readContent(content: string): { atMs: number | null; data: Record<string, unknown> } {
  try {
    const parsed = JSON.parse(content) as { at?: unknown; data?: unknown };
    const atMs = typeof parsed.at === 'string' ? Date.parse(parsed.at) : NaN;
    const data =
      parsed.data && typeof parsed.data === 'object' ? (parsed.data as Record<string, unknown>) : {};
    return { atMs: Number.isFinite(atMs) ? atMs : null, data };
  } catch {
    return { atMs: null, data: {} };
  }
}

/**
 * The figures. A response time pairs each dispute_answered with the dispute_opened before it on the
 * same record (one dispute is open per item at a time); its times are the events' anchored `at`.
 */
export function creditFigures(counts: CreditCounts, events: readonly DisputeEvent[]): CreditFigures {
  const ordered = [...events].sort((a, b) =>
    a.recordId === b.recordId ? a.seq - b.seq : a.recordId < b.recordId ? -1 : 1,
  );
  let opened = 0;
  let lost = 0;
  const responses: number[] = [];
  let openAt: { recordId: string; atMs: number | null } | null = null;
  for (const e of ordered) {
    const { atMs, data } = readContent(e.content);
    if (e.type === DISPUTE_OPENED) {
      opened++;
      openAt = { recordId: e.recordId, atMs };
    } else if (e.type === DISPUTE_ANSWERED) {
      if (openAt?.recordId === e.recordId && openAt.atMs !== null && atMs !== null) {
        responses.push(Math.max(0, Math.round((atMs - openAt.atMs) / 1000)));
      }
      openAt = null;
    } else if (e.type === DISPUTE_DECIDED) {
      if (data.decision === 'buyer') lost++;
      if (openAt?.recordId === e.recordId) openAt = null;
    }
  }
  const mid = median(responses);
  return {
    itemsIssued: counts.issued,
    revoked: counts.revoked,
    revokedShare: share(counts.revoked, counts.issued),
    refunded: counts.refunded,
    refundedShare: share(counts.refunded, counts.issued),
    disputesOpened: opened,
    disputesLost: lost,
    disputesAnswered: responses.length,
    medianResponseSeconds: mid === null ? null : Math.round(mid),
  };
}
