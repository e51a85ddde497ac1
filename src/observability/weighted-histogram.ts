/**
 * A Prometheus histogram that takes many equal observations at once: `observe(value, count)`.
 * prom-client's Histogram counts one observation per call, and a batch of a million events turning
 * final would mean a million calls on the event loop. Exposed exactly as a histogram (cumulative
 * `_bucket{le}`, `_sum`, `_count`), registered in a prom-client Registry like any metric.
 */
import type { Registry } from 'prom-client';

export class WeightedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
    registry: Registry,
    /** Runs before each scrape reads the histogram (to observe what happened since the last). */
    private readonly collect?: () => Promise<void>,
  ) {
    this.counts = buckets.map(() => 0);
    registry.registerMetric(this as never);
  }

  /** Adds `count` observations of `value`. */
  observe(value: number, count = 1): void {
    if (!(count > 0) || !Number.isFinite(value)) return;
    const bucket = this.buckets.findIndex((bound) => value <= bound);
    if (bucket >= 0) this.counts[bucket]! += count;
    this.sum += value * count;
    this.count += count;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }

  /** What prom-client's Registry renders: the metric's samples. */
  async get() {
    await this.collect?.();
    let cumulative = 0;
    const buckets = this.buckets.map((bound, i) => {
      cumulative += this.counts[i]!;
      return { labels: { le: bound }, value: cumulative, metricName: `${this.name}_bucket` };
    });
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: [
        ...buckets,
        { labels: { le: '+Inf' }, value: this.count, metricName: `${this.name}_bucket` },
        { labels: {}, value: this.sum, metricName: `${this.name}_sum` },
        { labels: {}, value: this.count, metricName: `${this.name}_count` },
      ],
    };
  }
}
