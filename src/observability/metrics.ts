/**
 * Every metric proofmark exports at GET /metrics (Prometheus text format), defined here and nowhere
 * else; docs/operations.md lists each with a suggested alert. Two kinds:
 * - figures read at scrape time from where they already live (the backlog, batches by status,
 *   transactions in flight, the anchorer's balance, acknowledgement-to-final times): collect
 *   callbacks, so nothing is counted on the hot paths;
 * - events counted as they happen, through the small interfaces below: HTTP requests (the app's
 *   onResponse hook), seals (the batcher), mined anchors, RPC errors, failed batcher steps and the
 *   finalized head (the anchorer).
 * Each instance exports its own registry. The figures read from the database (backlog, batches,
 * in flight, acknowledgement to final) are the same on every instance: aggregate them with max, not sum.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ScanTally } from '../service/scans.ts';
import type { SecretAbuseCounters } from '../service/secret-attempts.ts';
import type { BatchStatus } from '../storage/rows.ts';
import type { BatchStore, EventStore } from '../storage/storage.ts';
import { AckToFinal } from './ack-to-final.ts';
import { WeightedHistogram } from './weighted-histogram.ts';

/** What the batcher reports as it goes (the anchorer's figures pass through it). */
export interface BatcherMetrics {
  /** An anchor transaction of ours was mined (or reverted): the gas it used and the price paid per gas. */
  anchorMined(receipt: { gasUsed: bigint; gasPrice: bigint }): void;
  /** A JSON-RPC call failed or a node refused a transaction; `kind` is the batcher's RpcErrorKind. */
  rpcError(kind: string): void;
  /** A batch was sealed: its size, and how long the seal took. */
  batchSealed(leaves: number, seconds: number): void;
  /** A batcher pass failed and will be retried after a backoff. */
  stepFailed(): void;
}

/** What the HTTP app reports: one call per response. */
export interface HttpMetrics {
  /** `route` is the route's pattern ("/v1/records/:id"), never the raw URL: the label set stays bounded. */
  requestServed(method: string, route: string, statusCode: number, seconds: number): void;
}

/** Where the figures read at scrape time come from. */
export interface MetricSources {
  stores: {
    batches: Pick<BatchStore, 'unfinished' | 'nextId' | 'openSeal' | 'list' | 'newestFinal'>;
    events: Pick<EventStore, 'createdAtOfLeaves'>;
  };
  /** Events acknowledged and not yet final (the figure MAX_PENDING_EVENTS bounds). */
  backlog: { pending(): Promise<number>; readonly maxPending: number };
  /** The anchorer account's balance in wei (null: no anchorer key). */
  balance(): Promise<bigint | null>;
  /** What this instance's secret checks and scan counter refused or counted since start. */
  abuse?: { secrets: Readonly<SecretAbuseCounters>; scans: Readonly<ScanTally> };
}

/** The balance is read from the chain at most this often; a scrape never waits for the RPC. */
const BALANCE_REFRESH_MS = 10_000;
const STATUSES: readonly BatchStatus[] = ['sealed', 'submitted', 'anchored', 'final'];

export class Metrics implements BatcherMetrics, HttpMetrics {
  readonly registry = new Registry();
  private readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  private readonly httpSeconds: Histogram<'method' | 'route'>;
  private readonly sealedLeaves: Histogram;
  private readonly sealSeconds: Histogram;
  private readonly anchors: Counter;
  private readonly gas: Counter;
  private readonly feeWei: Counter;
  private readonly rpcErrors: Counter<'kind'>;
  private readonly failedSteps: Counter;
  private finalizedHeadAge: () => number | null = () => null;
  private balanceWei: bigint | null = null;
  private balanceReadAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });

    this.httpRequests = new Counter({
      name: 'proofmark_http_requests_total',
      help: 'HTTP responses sent, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpSeconds = new Histogram({
      name: 'proofmark_http_request_duration_seconds',
      help: 'Time from request received to response sent, by method and route pattern.',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });

    const backlog = sources.backlog;
    new Gauge({
      name: 'proofmark_backlog_events',
      help: 'Events acknowledged to merchants and not yet in a final batch (what MAX_PENDING_EVENTS bounds).',
      registers,
      async collect() {
        this.set(await backlog.pending());
      },
    });
    new Gauge({
      name: 'proofmark_backlog_limit_events',
      help: 'MAX_PENDING_EVENTS: at this backlog, writes are refused with 503 backlog_full.',
      registers,
      collect() {
        this.set(backlog.maxPending);
      },
    });

    const stores = sources.stores;
    const counts = new EveryScrape(() => batchCounts(stores.batches));
    new Gauge({
      name: 'proofmark_batches',
      help: 'Batches by status (a seal in progress is not counted until it completes).',
      labelNames: ['status'],
      registers,
      async collect() {
        const byStatus = await counts.get();
        for (const status of STATUSES) this.set({ status }, byStatus[status]);
      },
    });
    new Gauge({
      name: 'proofmark_anchor_transactions_in_flight',
      help: 'Anchor transactions sent and not yet mined (batches in status submitted).',
      registers,
      async collect() {
        this.set((await counts.get()).submitted);
      },
    });

    const ackToFinal: AckToFinal = new AckToFinal(
      stores,
      new WeightedHistogram(
        'proofmark_ack_to_final_seconds',
        'Seconds from an event being acknowledged (2xx) to its batch being final, per event.',
        [1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200, 1800, 3600],
        this.registry,
        () => ackToFinal.update(),
      ),
    );

    this.sealedLeaves = new Histogram({
      name: 'proofmark_batch_leaves',
      help: 'Leaves per sealed batch (batches grow up to BATCH_CEILING_LEAVES while anchoring is behind).',
      buckets: [1, 10, 100, 1000, 10_000, 100_000, 250_000, 500_000, 1_000_000, 2_000_000, 4_000_000],
      registers,
    });
    this.sealSeconds = new Histogram({
      name: 'proofmark_seal_duration_seconds',
      help: 'Time to seal one batch, from taking the sealer lease to the batch being visible.',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.anchors = new Counter({
      name: 'proofmark_anchors_mined_total',
      help: 'Anchor transactions of this instance seen mined.',
      registers,
    });
    this.gas = new Counter({
      name: 'proofmark_anchor_gas_used_total',
      help: 'Gas used by the anchor transactions of this instance, from their receipts.',
      registers,
    });
    this.feeWei = new Counter({
      name: 'proofmark_anchor_fee_wei_total',
      help: 'Wei paid for the anchor transactions of this instance (gas used times the price paid).',
      registers,
    });
    this.rpcErrors = new Counter({
      name: 'proofmark_rpc_errors_total',
      help: 'Failed JSON-RPC calls of the anchorer, by kind.',
      labelNames: ['kind'],
      registers,
    });
    this.failedSteps = new Counter({
      name: 'proofmark_batcher_failed_steps_total',
      help: 'Batcher passes that failed and were retried after a backoff.',
      registers,
    });

    const balance = new Gauge({
      name: 'proofmark_anchorer_balance_wei',
      help: "The anchorer account's balance in wei, read from the chain at most every 10 s (NaN until known).",
      registers,
      collect: async () => {
        await this.refreshBalance();
        balance.set(this.balanceWei === null ? Number.NaN : Number(this.balanceWei));
      },
    });
    const headAge = new Gauge({
      name: 'proofmark_finalized_head_age_seconds',
      help: "Seconds since the node's safe/finalized block last advanced (with CONFIRMATIONS=safe|finalized; NaN under a depth rule).",
      registers,
      collect: () => {
        headAge.set(this.finalizedHeadAge() ?? Number.NaN);
      },
    });
    if (sources.abuse) this.exportAbuseCounters(sources.abuse, registers);
  }

  /** Counters kept by the services themselves, exported as they stand at each scrape. */
  private exportAbuseCounters(abuse: NonNullable<MetricSources['abuse']>, registers: Registry[]): void {
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    counter(
      'proofmark_secret_wrong_guesses_total',
      'Secrets checked against a record and found wrong.',
      () => abuse.secrets.wrongGuesses,
    );
    counter(
      'proofmark_secret_checks_refused_total',
      'Secret checks refused with 429 secret_attempts_exhausted (the record had no try left).',
      () => abuse.secrets.refused,
    );
    counter(
      'proofmark_secret_records_exhausted_total',
      'Times a record used its last wrong-secret try of a window (each is also logged at warn).',
      () => abuse.secrets.exhausted,
    );
    new Counter({
      name: 'proofmark_scans_total',
      help: 'Verification page and verdict reads by what the scan counter did with them.',
      labelNames: ['outcome'],
      registers,
      collect() {
        this.reset();
        const { counted, repeated, notCounted } = abuse.scans;
        this.inc({ outcome: 'counted' }, counted);
        this.inc({ outcome: 'repeated' }, repeated);
        for (const [why, n] of Object.entries(notCounted)) this.inc({ outcome: `not_counted_${why}` }, n);
      },
    });
  }

  /** The exposition, as GET /metrics serves it. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  requestServed(method: string, route: string, statusCode: number, seconds: number): void {
    this.httpRequests.inc({ method, route, status: String(statusCode) });
    this.httpSeconds.observe({ method, route }, seconds);
  }

  batchSealed(leaves: number, seconds: number): void {
    this.sealedLeaves.observe(leaves);
    this.sealSeconds.observe(seconds);
  }

  stepFailed(): void {
    this.failedSteps.inc();
  }

  anchorMined(receipt: { gasUsed: bigint; gasPrice: bigint }): void {
    this.anchors.inc();
    this.gas.inc(Number(receipt.gasUsed));
    this.feeWei.inc(Number(receipt.gasUsed * receipt.gasPrice));
  }

  rpcError(kind: string): void {
    this.rpcErrors.inc({ kind });
  }

  /**
   * Where the finalized-head age comes from: the batcher's finality watch (seconds since the node's
   * safe/finalized block last advanced; null under a depth rule, exported as NaN).
   */
  readFinalityFrom(age: () => number | null): void {
    this.finalizedHeadAge = age;
  }

  /**
   * Reads the balance again when the last read is old, waiting for it at most a second: a slow or
   * unreachable RPC never holds a scrape up, which then reports the last balance known.
   */
  private async refreshBalance(): Promise<void> {
    const now = Date.now();
    if (now - this.balanceReadAt < BALANCE_REFRESH_MS) return;
    this.balanceReadAt = now;
    const read = this.sources.balance().then(
      (wei) => {
        this.balanceWei = wei;
      },
      () => {},
    );
    await Promise.race([read, delay(1000, undefined, { ref: false })]);
  }
}

/** Batches by status, counted from the unfinished ones (few) and the highest id. */
async function batchCounts(
  batches: Pick<BatchStore, 'unfinished' | 'nextId' | 'openSeal'>,
): Promise<Record<BatchStatus, number>> {
  const [unfinished, nextId, open] = await Promise.all([
    batches.unfinished(),
    batches.nextId(),
    batches.openSeal(),
  ]);
  const counts: Record<BatchStatus, number> = { sealed: 0, submitted: 0, anchored: 0, final: 0 };
  for (const batch of unfinished) counts[batch.status]++;
  // Batch ids have no gaps, so the final ones are the rest of 1 .. nextId-1 (less an open seal).
  counts.final = nextId - 1 - unfinished.length - (open ? 1 : 0);
  return counts;
}

/**
 * One read shared by the metrics of one scrape. prom-client starts every metric's collect in the
 * same turn of the event loop, so a read is shared for that turn only: the next scrape reads anew.
 */
class EveryScrape<T> {
  private value: Promise<T> | null = null;

  constructor(private readonly read: () => Promise<T>) {}

  get(): Promise<T> {
    if (!this.value) {
      this.value = this.read();
      setImmediate(() => (this.value = null));
    }
    return this.value;
  }
}
