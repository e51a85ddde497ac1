/**
 * Seconds from acknowledgement to final, per event, without reading every event. A batch's leaves
 * are in the order its events waited, oldest first, so SAMPLES + 1 point reads (creation times at
 * evenly spaced leaf indexes) cut it into segments of known size; each segment's events count at the
 * batch's final time minus the segment's middle creation time. Batches are read once, as they turn
 * final, at the next scrape (from the first scrape on: earlier ones are history).
 */
import type { BatchRow } from '../storage/rows.ts';
import type { BatchStore, EventStore } from '../storage/storage.ts';
import type { WeightedHistogram } from './weighted-histogram.ts';

const SAMPLES = 16;
const PAGE = 100;

export interface AckToFinalStores {
  batches: Pick<BatchStore, 'list' | 'newestFinal'>;
  events: Pick<EventStore, 'createdAtOfLeaves'>;
}

export class AckToFinal {
  /** The highest batch id accounted for; null until the first update sets the starting point. */
  private after: number | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly stores: AckToFinalStores,
    private readonly histogram: WeightedHistogram,
  ) {}

  /**
   * Adds the batches that turned final since the last update (in id order, up to the first that is
   * not). A failed read is tried again at the next update; what was added stays.
   */
  update(): Promise<void> {
    return (this.running ??= this.read()
      .catch(() => {})
      .finally(() => (this.running = null)));
  }

  private async read(): Promise<void> {
    if (this.after === null) {
      this.after = (await this.stores.batches.newestFinal(1))[0]?.id ?? 0;
      return;
    }
    for (;;) {
      const page = await this.stores.batches.list(this.after, PAGE);
      for (const batch of page) {
        if (batch.status !== 'final') return;
        await this.observe(batch);
        this.after = batch.id;
      }
      if (page.length < PAGE) return;
    }
  }

  private async observe(batch: BatchRow): Promise<void> {
    const finalAt = Date.parse(batch.final_at ?? '');
    const n = batch.leaf_count;
    const segments = Math.min(SAMPLES, n - 1);
    const indexes = Array.from({ length: segments + 1 }, (_, k) =>
      segments === 0 ? 0 : Math.round((k * (n - 1)) / segments),
    );
    const times = (await this.stores.events.createdAtOfLeaves(batch.id, indexes)).map((t) =>
      Date.parse(t ?? ''),
    );
    if (segments === 0) {
      this.histogram.observe((finalAt - times[0]!) / 1000, n);
      return;
    }
    for (let k = 0; k < segments; k++) {
      // Segment k holds leaves indexes[k] .. indexes[k+1]-1; the last one also holds the last leaf.
      const count = indexes[k + 1]! - indexes[k]! + (k === segments - 1 ? 1 : 0);
      const middle = (times[k]! + times[k + 1]!) / 2;
      this.histogram.observe((finalAt - middle) / 1000, count);
    }
  }
}
