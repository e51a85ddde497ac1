/**
 * The anchoring backlog: events acknowledged to a merchant that are not yet in a final batch (events
 * with no batch, plus the leaves of sealed, submitted and anchored batches). When it reaches
 * MAX_PENDING_EVENTS, writes are refused with 503 backlog_full instead of letting the queue grow
 * without limit while the chain is down or slow.
 *
 * A soft bound, on purpose. Counting on every request would put a scan on the ingest hot path, so
 * the count is read from the store on demand at most once every `refreshMs` (1 s), and what this
 * process accepts in between is added to it. The count costs time in proportion to the backlog (on
 * 1M events: under 1 ms with 10k waiting, 41 ms on SQLite and 280 ms on PostgreSQL with 500k), so a
 * slow read spaces the next one out: at most a tenth of the time goes to counting. What the gauge
 * does not see until its next read: other instances' writes (with N instances the overshoot is up to
 * N-1 refresh intervals of their ingest) and batches turning final (writes stay refused for up to an
 * interval after the backlog drains). Requests already past the check when the bound is reached
 * still complete.
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

export class BacklogGauge {
  private count = 0;
  private nextReadAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<void> | null = null;

  constructor(
    /** Where the backlog is counted: events not yet in a final batch. */
    private readonly events: Pick<EventStore, 'countAwaitingFinal'>,
    /** MAX_PENDING_EVENTS: at or beyond it, writes are refused. */
    readonly maxPending: number,
    /** The Retry-After of a refusal, in seconds. */
    readonly retryAfterSeconds: number,
    private readonly refreshMs = 1000,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** The backlog as of the last read, plus what this process accepted since. */
  async pending(): Promise<number> {
    if (this.clock() >= this.nextReadAt) await (this.reading ??= this.read());
    return this.count;
  }

  /** The 503 to answer with while the backlog is full, or null while writes may go ahead. */
  async refusal(): Promise<ServiceError | null> {
    const pending = await this.pending();
    if (pending < this.maxPending) return null;
    return new ServiceError(503, 'backlog_full', `anchoring is behind: ${pending} events wait; retry later`);
  }

  /** Adds events this process just committed, so a burst between two reads still counts. */
  accepted(events: number): void {
    this.count += events;
  }

  private async read(): Promise<void> {
    try {
      const started = this.clock();
      this.count = await this.events.countAwaitingFinal();
      const done = this.clock();
      this.nextReadAt = done + Math.max(this.refreshMs, 10 * (done - started));
    } finally {
      this.reading = null;
    }
  }
}
