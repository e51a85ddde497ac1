/**
 * Scan counts, written behind. Every verdict counts a scan; a write and an fsync per scan made the
 * verify route as slow as ingest. Counts gather in memory and are flushed in one write every
 * `flushMs` (1 s); a read adds what is not flushed yet. At most `flushMs` of counts is lost in a crash,
 * and a count is a warning sign for consumers, not evidence.
 */
import type { ScanRow } from '../storage/rows.ts';
import type { ScanStore } from '../storage/storage.ts';

export interface ScanStats {
  count: number;
  firstAt: string | null;
  suspicious: boolean;
}

/** Past this many scans a page warns that the code may have been copied. */
export const SUSPICIOUS_SCANS = 20;

interface Unflushed {
  count: number;
  firstAt: string;
  lastAt: string;
}

export class ScanCounter {
  private pending = new Map<string, Unflushed>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  /** Grows when a flush takes the waiting counts out of memory: a read that saw it change retries. */
  private flushesStarted = 0;

  constructor(
    private readonly store: ScanStore,
    private readonly flushMs = 1000,
  ) {}

  /** Counts one scan at `at` and returns the record's totals including it. */
  async count(recordId: string, at: string): Promise<ScanStats> {
    const seen = this.pending.get(recordId);
    if (seen) {
      seen.count++;
      seen.lastAt = at;
    } else {
      this.pending.set(recordId, { count: 1, firstAt: at, lastAt: at });
    }
    this.timer ??= setTimeout(() => void this.flush(), this.flushMs);
    return this.stats(recordId);
  }

  /**
   * Totals: what is stored plus what waits to be flushed. A flush in flight holds counts that are in
   * neither place until it commits, so a read waits for it, and reads again if another one started
   * while it read.
   */
  async stats(recordId: string): Promise<ScanStats> {
    let row: ScanRow | undefined;
    for (;;) {
      const started = this.flushesStarted;
      await this.flushing;
      row = await this.store.get(recordId);
      if (this.flushesStarted === started) break;
    }
    const waiting = this.pending.get(recordId);
    const count = (row?.count ?? 0) + (waiting?.count ?? 0);
    return {
      count,
      firstAt: row?.first_at ?? waiting?.firstAt ?? null,
      suspicious: count > SUSPICIOUS_SCANS,
    };
  }

  /** Stores every waiting count at once; chained so flushes never overlap. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    if (batch.size === 0) return this.flushing;
    this.pending = new Map();
    this.flushesStarted++;
    this.flushing = this.flushing.then(() => this.write(batch));
    return this.flushing;
  }

  /** One write; if it fails the counts go back to wait for the next flush (never rejects). */
  private async write(batch: Map<string, Unflushed>): Promise<void> {
    try {
      await this.store.add(
        [...batch].map(([recordId, s]) => ({
          record_id: recordId,
          count: s.count,
          first_at: s.firstAt,
          last_at: s.lastAt,
        })),
      );
    } catch {
      for (const [recordId, s] of batch) {
        const now = this.pending.get(recordId);
        this.pending.set(
          recordId,
          now ? { count: now.count + s.count, firstAt: s.firstAt, lastAt: now.lastAt } : s,
        );
      }
      this.timer ??= setTimeout(() => void this.flush(), this.flushMs);
    }
  }
}
