/** Summary statistics for repeated measurements: median and spread, and latency percentiles. */

export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  /** 25th and 75th percentiles (linear interpolation) and their difference. */
  p25: number;
  p75: number;
  iqr: number;
  mean: number;
  /** Every value, in measurement order. */
  values: number[];
}

/** Quantile q in [0, 1] of ascending `sorted`, interpolating linearly between ranks. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function median(values: readonly number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const p25 = quantile(sorted, 0.25);
  const p75 = quantile(sorted, 0.75);
  return {
    n: values.length,
    median: quantile(sorted, 0.5),
    min: sorted[0] ?? Number.NaN,
    max: sorted.at(-1) ?? Number.NaN,
    p25,
    p75,
    iqr: p75 - p25,
    mean: values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN,
    values: [...values],
  };
}

export interface Latency {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Percentiles of one set of latency samples (nearest rank, so p99 is an observed sample). */
export function latency(samples: readonly number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return {
    n: sorted.length,
    p50: rank(50),
    p95: rank(95),
    p99: rank(99),
    max: sorted.at(-1)!,
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
}

/** Rounds for display and JSON: enough digits to read, not float noise. */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function roundSummary(s: Summary, digits = 3): Summary {
  return {
    n: s.n,
    median: round(s.median, digits),
    min: round(s.min, digits),
    max: round(s.max, digits),
    p25: round(s.p25, digits),
    p75: round(s.p75, digits),
    iqr: round(s.iqr, digits),
    mean: round(s.mean, digits),
    values: s.values.map((v) => round(v, digits)),
  };
}
