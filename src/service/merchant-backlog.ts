/**
 * Each merchant's share of the anchoring backlog. MAX_PENDING_EVENTS bounds the whole backlog
 * (backlog.ts), so a merchant that floods it alone would get every merchant refused with it. Each
 * merchant may have at most MAX_PENDING_EVENTS_PER_MERCHANT events waiting for a final batch; past
 * that its writes, and only its, answer 503 backlog_full.
 *
 * Soft, and cheap on the ingest path, as the global gauge is. While the whole backlog (the global
 * gauge's count) is below one merchant's share, no merchant can be at it, and nothing is read: the
 * usual case costs nothing. Past that, the counts of every merchant are read from the store in one
 * grouped read (it joins each waiting event to its record: on SQLite about 1-2 ms per 1,000 events
 * waiting, on PostgreSQL about 4) at most once every `refreshMs` (1 s; a slower read spaces the next
 * one out to ten times its duration), and what this process accepts in between is added to them.
 * Other instances' writes are seen at the next read.
 */
import type { EventStore } from '../storage/storage.ts';
import { ServiceError } from './errors.ts';

export class MerchantBacklog {
  private counts = new Map<string, number>();
  private nextReadAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<void> | null = null;

  constructor(
    /** Where the backlog is counted: events not yet in a final batch, per merchant. */
    private readonly events: Pick<EventStore, 'awaitingFinalByMerchant'>,
    /** MAX_PENDING_EVENTS_PER_MERCHANT: at or beyond it, the merchant's writes are refused. */
    readonly maxPerMerchant: number,
    /** The whole backlog as the global gauge counts it (BacklogGauge.pending). */
    private readonly total: () => Promise<number>,
    private readonly refreshMs = 1000,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** The merchant's events waiting for a final batch, as of the last read plus what was accepted since. */
  async pendingOf(merchantId: string): Promise<number> {
    if (this.clock() >= this.nextReadAt) await (this.reading ??= this.read());
    return this.counts.get(merchantId) ?? 0;
  }

  /** The 503 for a merchant at its share (saying it is its own backlog), or null while it may write. */
  async refusal(merchantId: string): Promise<ServiceError | null> {
    if ((await this.total()) < this.maxPerMerchant) return null;
    const pending = await this.pendingOf(merchantId);
    if (pending < this.maxPerMerchant) return null;
    return new ServiceError(
      503,
      'backlog_full',
      `your anchoring backlog is full: ${pending} of your events wait (at most ${this.maxPerMerchant} per merchant); ` +
        'other merchants are not affected; retry later',
    );
  }

  /** Adds events this process just committed for the merchant, so a burst between reads still counts. */
  accepted(merchantId: string, events: number): void {
    this.counts.set(merchantId, (this.counts.get(merchantId) ?? 0) + events);
  }

  private async read(): Promise<void> {
    try {
      const started = this.clock();
      this.counts = await this.events.awaitingFinalByMerchant();
      const done = this.clock();
      this.nextReadAt = done + Math.max(this.refreshMs, 10 * (done - started));
    } finally {
      this.reading = null;
    }
  }
}
