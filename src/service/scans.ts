/**
 * Scan counts that measure copies, not requests. A record's count is the number of distinct scanners
 * (service/scanners.ts: networks, by a keyed hash) that opened its code, each counted once per
 * window (SCAN_WINDOW_DAYS): one person reloading 300 times adds one; 25 networks add 25. HEAD,
 * prefetches and link previews add nothing.
 *
 * Written behind, as before: a verdict never waits for a write. A scanner this instance has already
 * seen on a record in this window costs a map lookup; a new one waits in memory and every `flushMs`
 * (1 s) all waiting sightings are stored in one write, which keeps only those not stored yet (by
 * this or another instance sharing the database) and adds them to the counts. A read adds what waits
 * to be flushed, so for up to a second a count may include a scanner another instance had already
 * counted; at most `flushMs` of sightings is lost in a crash. A count is a warning sign, not evidence.
 */
import type { ScanRow, ScanSighting } from '../storage/rows.ts';
import type { ScanStore } from '../storage/storage.ts';
import { scannerOf, type NotCounted, type ScanRequest } from './scanners.ts';
import type { ServerKey } from './server-key.ts';

export interface ScanStats {
  /** Distinct scanners, each counted once per window. */
  count: number;
  firstAt: string | null;
  suspicious: boolean;
}

/** Past this many distinct scanners a page warns that the code may have been copied. */
export const SUSPICIOUS_SCANS = 20;

/** SCAN_WINDOW_DAYS is in days; windows are in milliseconds. */
export const DAY_MS = 86_400_000;

/** What this instance saw, for metrics (`proofmark_scans_total{outcome}`). */
export interface ScanTally {
  /** A scanner new to this instance for the record and window. */
  counted: number;
  /** A scanner already seen on the record in this window: nothing added. */
  repeated: number;
  notCounted: Record<NotCounted, number>;
}

export interface ScanCounterOptions {
  /** The server key: scanners are keyed hashes of address prefixes. */
  keys: ServerKey;
  /** A scanner counts once per record per window of this length (SCAN_WINDOW_DAYS). */
  windowMs: number;
  flushMs?: number;
  /** How many (record, window, scanner) keys this instance remembers to skip repeats without a write. */
  remember?: number;
  /** Sightings of past windows forgotten per flush, at most (bounded, so a flush stays short). */
  pruneBatch?: number;
}

export class ScanCounter {
  readonly tally: ScanTally = {
    counted: 0,
    repeated: 0,
    notCounted: { head: 0, prefetch: 0, link_preview: 0 },
  };
  private readonly keys: ServerKey;
  /** A scanner counts once per record per window of this length. */
  readonly windowMs: number;
  private readonly flushMs: number;
  private readonly remember: number;
  private readonly pruneBatch: number;
  /** Sightings waiting to be stored, by key. */
  private pending = new Map<string, ScanSighting>();
  /** The same, summed per record, for reads. */
  private waiting = new Map<string, { count: number; firstAt: string }>();
  /** Keys seen lately, oldest first (a Set keeps insertion order): repeats skip the write. */
  private readonly seen = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  /** Grows when a flush takes the waiting counts out of memory: a read that saw it change retries. */
  private flushesStarted = 0;
  /** Sightings of windows before this one are all forgotten. */
  private prunedBefore = 0;
  private pruning = false;

  constructor(
    private readonly store: ScanStore,
    options: ScanCounterOptions,
  ) {
    this.keys = options.keys;
    this.windowMs = options.windowMs;
    this.flushMs = options.flushMs ?? 1000;
    this.remember = options.remember ?? 50_000;
    this.pruneBatch = options.pruneBatch ?? 5000;
  }

  /** Counts `request` as a scan of the record at `at` (if it is one) and returns the record's totals. */
  async count(recordId: string, request: ScanRequest, at: string): Promise<ScanStats> {
    const scanner = scannerOf(this.keys, request);
    if (!scanner.counts) {
      this.tally.notCounted[scanner.reason]++;
      return this.stats(recordId);
    }
    const window = Math.floor(Date.parse(at) / this.windowMs);
    const key = `${window} ${scanner.id} ${recordId}`;
    if (this.seen.has(key)) {
      this.tally.repeated++;
      return this.stats(recordId);
    }
    this.tally.counted++;
    this.seen.add(key);
    if (this.seen.size > this.remember) this.seen.delete(this.seen.values().next().value!);
    this.wait(key, { record_id: recordId, window_index: window, scanner: scanner.id, seen_at: at });
    this.timer ??= setTimeout(() => void this.flush(), this.flushMs);
    return this.stats(recordId);
  }

  /**
   * Totals: what is stored plus what waits to be flushed. A flush in flight holds sightings that are
   * in neither place until it commits, so a read waits for it, and reads again if another one
   * started while it read.
   */
  async stats(recordId: string): Promise<ScanStats> {
    let row: ScanRow | undefined;
    for (;;) {
      const started = this.flushesStarted;
      await this.flushing;
      row = await this.store.get(recordId);
      if (this.flushesStarted === started) break;
    }
    const waiting = this.waiting.get(recordId);
    const count = (row?.count ?? 0) + (waiting?.count ?? 0);
    return {
      count,
      firstAt: row?.first_at ?? waiting?.firstAt ?? null,
      suspicious: count > SUSPICIOUS_SCANS,
    };
  }

  /** Puts a sighting in line for the next flush (once per key) and adds it to its record's sum. */
  private wait(key: string, sighting: ScanSighting): void {
    if (this.pending.has(key)) return;
    this.pending.set(key, sighting);
    const sum = this.waiting.get(sighting.record_id);
    if (!sum) this.waiting.set(sighting.record_id, { count: 1, firstAt: sighting.seen_at });
    else {
      sum.count++;
      if (sighting.seen_at < sum.firstAt) sum.firstAt = sighting.seen_at;
    }
  }

  /** Stores every waiting sighting at once; chained so flushes never overlap. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    if (batch.size === 0) return this.flushing;
    this.pending = new Map();
    this.waiting = new Map();
    this.flushesStarted++;
    this.flushing = this.flushing.then(() => this.write(batch));
    return this.flushing;
  }

  /** One write; if it fails the sightings wait for the next flush (never rejects). Then a prune, aside. */
  private async write(batch: Map<string, ScanSighting>): Promise<void> {
    try {
      await this.store.addSightings([...batch.values()]);
    } catch {
      for (const [key, s] of batch) this.wait(key, s);
      this.timer ??= setTimeout(() => void this.flush(), this.flushMs);
      return;
    }
    let latest = 0;
    for (const s of batch.values()) latest = Math.max(latest, s.window_index);
    void this.prune(latest);
  }

  /**
   * Forgets past windows' sightings, a bounded batch after each flush until none is left. Outside the
   * flush chain, so reads never wait for it; one at a time; a failure waits for the next flush.
   */
  private async prune(window: number): Promise<void> {
    if (this.pruning || window <= this.prunedBefore) return;
    this.pruning = true;
    try {
      const removed = await this.store.pruneSightings(window, this.pruneBatch);
      if (removed < this.pruneBatch) this.prunedBefore = window;
    } catch {
      // Pruning only bounds the table; the next flush tries again.
    } finally {
      this.pruning = false;
    }
  }
}
