/**
 * The batching loop. Every instance runs one; only the lease holder seals and anchors. A batch is
 * sealed when BATCH_MAX_LEAVES events wait or the oldest has waited BATCH_MAX_AGE_MS; while anchoring
 * is behind, batches grow instead (see sealIfDue). RPC failures back off exponentially while the API
 * keeps accepting records.
 */
import type { Logger } from 'pino';
import type { FinalityRule } from '../chain/finality.ts';
import type { AnchorChain, TxReceipt } from '../chain/registry.ts';
import { rpcErrorKind, type RpcErrorKind } from '../chain/rpc-provider.ts';
import { sealBatch, SealerBusyError, SEALER_LEASE_MS } from '../service/sealing.ts';
import type { ServiceContext } from '../service/context.ts';
import { isDuplicateKey } from '../storage/errors.ts';
import type { BatchRow } from '../storage/rows.ts';
import {
  advanceBatches,
  AnchorConflictError,
  LeaseLostError,
  recheckFinalBatches,
  type AnchorerDeps,
  type AnchorFigures,
} from './anchorer.ts';
import { crashPoint } from './crash-points.ts';
import { FinalityWatch } from './finality-watch.ts';
import type { Lease } from './lease.ts';
import type { BatcherMetrics } from '../observability/metrics.ts';

export interface BatcherOptions {
  ctx: ServiceContext;
  chain: AnchorChain;
  lease: Lease;
  /** CONFIRMATIONS: a number of blocks deep, or the rule chosen at start (a node's safe/finalized block). */
  confirmations: number | FinalityRule;
  /** MAX_IN_FLIGHT: anchor transactions that may wait to be mined at once; 8 unless given. */
  maxInFlight?: number;
  /** FINALITY_STALL_MS, for a tag rule: how long the node's mark may stand still; 30 min unless given. */
  finalityStallMs?: number;
  maxLeaves: number;
  /**
   * BATCH_CEILING_LEAVES: how large a batch may grow while anchoring is behind (at least maxLeaves).
   * Unset: maxLeaves, so batches never grow.
   */
  ceilingLeaves?: number;
  maxAgeMs: number;
  /** How often an idle loop looks for work. */
  tickMs: number;
  log: Logger;
  /** Where seals, failed steps and mined anchors are counted (GET /metrics); unset: nowhere. */
  metrics?: BatcherMetrics;
}

export interface BatcherStatus {
  leader: boolean;
  halted: string | null;
  lastError: string | null;
  consecutiveFailures: number;
  /** Anchor transactions of ours waiting to be mined, after the last pass. */
  anchorsInFlight: number;
  /** Gas used by our anchor transactions whose receipts were recorded since start, and its cost in wei. */
  gasUsed: bigint;
  gasSpentWei: bigint;
  /** Failed steps, by the kind of RPC failure behind them, and nodes' refusals, since start. */
  rpcErrors: Partial<Record<RpcErrorKind, number>>;
  /** Seconds since the node's safe/finalized block last advanced (a tag rule only), else null. */
  finalizedHeadAgeSeconds: number | null;
  /** In words, once that block has stood still for longer than FINALITY_STALL_MS, else null. */
  finalityStalled: string | null;
  /** The anchorer account's balance in wei at the last pass, or null before the first. */
  anchorerBalanceWei: bigint | null;
}

const DEFAULT_MAX_IN_FLIGHT = 8;
const DEFAULT_FINALITY_STALL_MS = 30 * 60_000;

const MAX_BACKOFF_MS = 30_000;
/** How often an operator's seal asks again while another instance's seal holds the sealer lease. */
const SEALER_BUSY_RETRY_MS = 100;

export class Batcher {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;
  private failures = 0;
  private lastError: string | null = null;
  private halted: string | null = null;
  private readonly finality: FinalityRule;
  private readonly watch: FinalityWatch | null;
  private readonly figures = {
    inFlight: 0,
    gasUsed: 0n,
    gasSpentWei: 0n,
    rpcErrors: {} as Partial<Record<RpcErrorKind, number>>,
    balance: null as bigint | null,
  };
  /** Seals of this instance (the loop's and the operator's) run one after another. */
  private sealing: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: BatcherOptions) {
    const { confirmations } = opts;
    this.finality =
      typeof confirmations === 'number' ? { kind: 'depth', blocks: confirmations } : confirmations;
    this.watch =
      this.finality.kind === 'tag'
        ? new FinalityWatch(this.finality.tag, opts.finalityStallMs ?? DEFAULT_FINALITY_STALL_MS)
        : null;
  }

  get status(): BatcherStatus {
    const now = Date.now();
    return {
      leader: this.opts.lease.token !== null,
      halted: this.halted,
      lastError: this.lastError,
      consecutiveFailures: this.failures,
      anchorsInFlight: this.figures.inFlight,
      gasUsed: this.figures.gasUsed,
      gasSpentWei: this.figures.gasSpentWei,
      rpcErrors: { ...this.figures.rpcErrors },
      finalizedHeadAgeSeconds: this.watch?.ageSeconds(now) ?? null,
      finalityStalled: this.watch?.stalled(now) ?? null,
      anchorerBalanceWei: this.figures.balance,
    };
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops the loop, waits for a step in flight, and hands the lease on. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    await this.opts.lease.release().catch(() => {});
  }

  /**
   * Stops the loop at once without waiting for a step in flight and without releasing the lease:
   * what a killed process leaves behind. Another instance takes over only when the lease expires.
   * For failover tests; a step still in flight can no longer save (its lease token is forgotten).
   */
  crash(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.opts.lease.abandon();
  }

  /**
   * Asks for a tick soon: new records arrived or an operator asked for a seal. While steps are
   * failing the backoff stands, so traffic cannot turn it into one RPC attempt per request.
   */
  kick(): void {
    if (!this.stopped && !this.running && this.failures === 0) this.schedule(0);
  }

  /**
   * Seals everything pending now, in as many batches as BATCH_MAX_LEAVES needs: it stops after the
   * first batch that is not full, so records that keep arriving meanwhile do not keep it going.
   * While another instance is sealing it waits for it (up to a minute past that seal's lease).
   */
  async sealNow(): Promise<BatchRow[]> {
    const { maxLeaves } = this.opts;
    const sealed: BatchRow[] = [];
    const giveUpAt = Date.now() + 60_000 + SEALER_LEASE_MS;
    for (;;) {
      let batch: BatchRow | null;
      try {
        batch = await this.sealOne(maxLeaves);
      } catch (err) {
        if (!(err instanceof SealerBusyError) || Date.now() > giveUpAt) throw err;
        await new Promise((resolve) => setTimeout(resolve, SEALER_BUSY_RETRY_MS));
        continue;
      }
      if (batch) sealed.push(batch);
      if (!batch || batch.leaf_count < maxLeaves) break;
    }
    this.kick();
    return sealed;
  }

  /**
   * One pass: take or renew the lease; if leading, seal what is due, advance open batches, and read
   * the figures an operator watches (the finality mark, the anchorer's balance).
   */
  async tick(): Promise<void> {
    const { lease, log, chain } = this.opts;
    if (!(await lease.acquire())) return;
    if (this.halted) return;
    await this.sealIfDue();
    try {
      await recheckFinalBatches(this.deps());
      while ((await advanceBatches(this.deps())) > 0) {
        if (this.stopped) return;
      }
      if (this.watch) this.watch.saw(await chain.taggedBlock(this.watch.tag), Date.now());
      this.figures.balance = await chain.balance();
    } catch (err) {
      if (err instanceof AnchorConflictError) {
        this.halted = err.message;
        log.error({ err }, 'anchoring halted: the chain disagrees with the database');
        return;
      }
      throw err;
    }
  }

  private deps(): AnchorerDeps {
    const { ctx, chain, lease, log } = this.opts;
    return {
      batches: ctx.storage.batches,
      chain,
      fence: () => lease.fence,
      onLeaseLost: () => lease.abandon(),
      finality: this.finality,
      maxInFlight: this.opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
      figures: this.anchorFigures,
      log,
      now: ctx.now,
    };
  }

  private readonly anchorFigures: AnchorFigures = {
    spent: (receipt: TxReceipt) => {
      this.figures.gasUsed += receipt.gasUsed;
      this.figures.gasSpentWei += receipt.gasUsed * receipt.gasPrice;
      this.opts.metrics?.anchorMined(receipt);
    },
    refused: (kind) => this.countRpcError(kind),
    inFlight: (count) => {
      this.figures.inFlight = count;
    },
  };

  private countRpcError(kind: RpcErrorKind): void {
    this.figures.rpcErrors[kind] = (this.figures.rpcErrors[kind] ?? 0) + 1;
    this.opts.metrics?.rpcError(kind);
  }

  /**
   * Seals what is due, sized by how anchoring keeps up:
   * - a batch sealed earlier still waits to be sent (anchoring is behind, or at its limit of
   *   transactions in flight): nothing, so waiting events gather into one larger batch later instead
   *   of queueing as many small ones;
   * - an earlier batch is on its way (sent, or mined and not yet final): one batch of everything
   *   waiting, up to BATCH_CEILING_LEAVES, once BATCH_MAX_LEAVES wait or the oldest has waited
   *   BATCH_MAX_AGE_MS;
   * - anchoring has caught up (every batch final): batches of BATCH_MAX_LEAVES while that many
   *   wait, and the rest once the oldest has waited BATCH_MAX_AGE_MS (the normal case).
   * A seal a dead sealer left open is completed first, due or not. Another instance's seal in
   * progress (an operator's) is left alone until the next tick.
   */
  private async sealIfDue(): Promise<void> {
    const { ctx, maxLeaves, maxAgeMs } = this.opts;
    const ceilingLeaves = Math.max(maxLeaves, this.opts.ceilingLeaves ?? maxLeaves);
    const { batches, events } = ctx.storage;
    try {
      if (await batches.openSeal()) await this.sealLogged(maxLeaves);
      const open = await batches.unfinished();
      if (open.some((b) => b.status === 'sealed')) return;
      const behind = open.length > 0;
      for (;;) {
        const waiting = await events.unbatched(maxLeaves);
        if (waiting.oldestAt === null) return;
        const full = waiting.count >= maxLeaves;
        const age = ctx.now().getTime() - Date.parse(waiting.oldestAt);
        if (!full && age < maxAgeMs) return;
        const batch = await this.sealLogged(behind ? ceilingLeaves : maxLeaves);
        if (!batch || behind) return;
      }
    } catch (err) {
      if (err instanceof SealerBusyError) return;
      throw err;
    }
  }

  private async sealLogged(maxLeaves: number): Promise<BatchRow | null> {
    const batch = await this.sealOne(maxLeaves);
    if (batch) {
      this.opts.log.info({ batchId: batch.id, leaves: batch.leaf_count, root: batch.root }, 'batch sealed');
    }
    return batch;
  }

  /**
   * Seals one batch of at most `maxLeaves`, after any seal of this instance still running. Seals on
   * several instances exclude each other through the sealer lease (SealerBusyError); a seal racing a
   * unique key (a batch id taken meanwhile) fails whole and is tried again.
   */
  private sealOne(maxLeaves: number): Promise<BatchRow | null> {
    const run = this.sealing.then(async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          const started = performance.now();
          const batch = await sealBatch(this.opts.ctx, maxLeaves, { holder: this.opts.lease.holder });
          if (batch) {
            this.opts.metrics?.batchSealed(batch.leaf_count, (performance.now() - started) / 1000);
            crashPoint('after-seal');
          }
          return batch;
        } catch (err) {
          if (attempt < 5 && isDuplicateKey(err)) continue;
          throw err;
        }
      }
    });
    this.sealing = run.catch(() => {});
    return run;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.tick()
        .then(() => {
          this.failures = 0;
          this.lastError = null;
        })
        .catch((err: Error) => {
          this.failures++;
          this.opts.metrics?.stepFailed();
          this.lastError = err.message;
          if (!(err instanceof LeaseLostError)) this.countRpcError(rpcErrorKind(err));
          const level = err instanceof LeaseLostError ? 'warn' : this.failures > 3 ? 'error' : 'warn';
          this.opts.log[level](
            { err: err.message, failures: this.failures },
            'batcher step failed; will retry',
          );
        })
        .finally(() => {
          this.running = null;
          const backoff =
            this.failures === 0
              ? this.opts.tickMs
              : Math.min(MAX_BACKOFF_MS, this.opts.tickMs * 2 ** this.failures);
          this.schedule(backoff);
        });
    }, delayMs);
  }
}
