/**
 * The anchoring backlog: events acknowledged to a merchant that are not yet in a final batch (events
 * with no batch, plus the leaves of sealed, submitted and anchored batches). When it reaches
 * MAX_PENDING_EVENTS, writes are refused with 503 backlog_full instead of letting the queue grow
 * without limit while the chain is down or slow. Each merchant has its own share as well,
 * MAX_PENDING_EVENTS_PER_MERCHANT: a merchant that floods is refused at its share, so it cannot fill
 * the global bound and get every other merchant refused with it.
 *
 * A soft bound, on purpose. Counting on every request would put a scan on the ingest hot path, so
 * the counts (per merchant, in one read; the total is their sum) are read from the store on demand
 * at most once every `refreshMs` (1 s), and what this process accepts in between is added to them.
 * The read costs time in proportion to the backlog, so a slow read spaces the next one out: at most
 * a tenth of the time goes to counting. What the gauge does not see until its next read: other
 * instances' writes (with N instances the overshoot is up to N-1 refresh intervals of their ingest)
 * and batches turning final (writes stay refused for up to an interval after the backlog drains).
 * Requests already past the check when the bound is reached still complete.
 */
import type { EventStore } from '../storage/storage.ts';
import { ServiceError } from './errors.ts';

/**
 * Seconds a refused writer should wait: about one batch cycle, the time for waiting events to be
 * sealed (BATCH_MAX_AGE_MS, counted up to a minute: a full backlog seals by BATCH_MAX_LEAVES long
 * before) and to become final (one CHAIN_POLL_MS per confirmation, and one to send). 1 s to 5 min.
 */
export function backlogRetryAfterSeconds(opts: {
  batchMaxAgeMs: number;
  chainPollMs: number;
  confirmations: number;
}): number {
  const ms = Math.min(opts.batchMaxAgeMs, 60_000) + opts.chainPollMs * (opts.confirmations + 1);
  return Math.min(300, Math.max(1, Math.ceil(ms / 1000)));
}

export interface BacklogBounds {
  /** MAX_PENDING_EVENTS: at or beyond it, every merchant's writes are refused. */
  maxPending: number;
  /** MAX_PENDING_EVENTS_PER_MERCHANT: at or beyond it, that merchant's writes are refused. */
  maxPendingPerMerchant: number;
  /** The Retry-After of a refusal, in seconds. */
  retryAfterSeconds: number;
  /** How often at most the store is read (1 s). */
  refreshMs?: number;
  clock?: () => number;
}

export class BacklogGauge {
  private total = 0;
  private byMerchant = new Map<string, number>();
  private nextReadAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<void> | null = null;
  readonly maxPending: number;
  readonly maxPendingPerMerchant: number;
  readonly retryAfterSeconds: number;
  private readonly refreshMs: number;
  private readonly clock: () => number;

  constructor(
    /** Where the backlog is counted: events not yet in a final batch, per merchant. */
    private readonly events: Pick<EventStore, 'awaitingFinalByMerchant'>,
    bounds: BacklogBounds,
  ) {
    this.maxPending = bounds.maxPending;
    this.maxPendingPerMerchant = bounds.maxPendingPerMerchant;
    this.retryAfterSeconds = bounds.retryAfterSeconds;
    this.refreshMs = bounds.refreshMs ?? 1000;
    this.clock = bounds.clock ?? (() => performance.now());
  }

  /** The whole backlog as of the last read, plus what this process accepted since. */
  async pending(): Promise<number> {
    await this.refresh();
    return this.total;
  }

  /** One merchant's backlog, counted the same way. */
  async pendingOf(merchantId: string): Promise<number> {
    await this.refresh();
    return this.byMerchant.get(merchantId) ?? 0;
  }

  /**
   * The 503 to answer `merchantId` with while its share or the whole backlog is full, or null while
   * it may write. A merchant past its own share is told so: the wait is of its own making.
   */
  async refusal(merchantId: string): Promise<ServiceError | null> {
    const mine = await this.pendingOf(merchantId);
    if (mine >= this.maxPendingPerMerchant) {
      return new ServiceError(
        503,
        'backlog_full',
        `your anchoring backlog is full: ${mine} of your events wait (at most ${this.maxPendingPerMerchant} a merchant); retry later`,
      );
    }
    if (this.total < this.maxPending) return null;
    return new ServiceError(
      503,
      'backlog_full',
      `anchoring is behind: ${this.total} events wait; retry later`,
    );
  }

  /** Adds events this process just committed for `merchantId`, so a burst between two reads still counts. */
  accepted(merchantId: string, events: number): void {
    this.total += events;
    this.byMerchant.set(merchantId, (this.byMerchant.get(merchantId) ?? 0) + events);
  }

  private async refresh(): Promise<void> {
    if (this.clock() >= this.nextReadAt) await (this.reading ??= this.read());
  }

  private async read(): Promise<void> {
    try {
      const started = this.clock();
      const counts = await this.events.awaitingFinalByMerchant();
      this.byMerchant = counts;
      this.total = [...counts.values()].reduce((sum, n) => sum + n, 0);
      const done = this.clock();
      this.nextReadAt = done + Math.max(this.refreshMs, 10 * (done - started));
    } finally {
      this.reading = null;
    }
  }
}
