/**
 * The after-sale timer: warns merchants of dispute deadlines drawing near, decides unanswered
 * disputes for the buyer at their deadline, and deletes sealed secrets past their expiry. Time comes
 * from the service's clock (ctx.now), so a test moves a test clock and calls `sweep` instead of
 * waiting. Every instance may run it: each step is a compare-and-set, so two sweeping at once do each
 * thing once (the loser of a race gets a 409 and moves on).
 */
import type { Logger } from 'pino';
import { isDuplicateKey } from '../../storage/errors.ts';
import type { ServiceContext } from '../context.ts';
import { ServiceError } from '../errors.ts';
import { enqueueWebhook } from '../webhooks/outbox.ts';
import { decide } from './disputes.ts';
import { purgeExpiredSecrets } from './sealed-delivery.ts';

/** Disputes handled per step of a sweep, so one sweep stays short. */
const SWEEP_BATCH = 100;
/** The warning goes out this long before the deadline (or halfway, for a shorter response window). */
const WARN_BEFORE_MS = 2 * 3_600_000;

export interface SweepResult {
  warned: number;
  decided: number;
  purged: number;
}

export async function sweepAfterSale(ctx: ServiceContext): Promise<SweepResult> {
  const now = ctx.now();
  const warnBefore = Math.min(WARN_BEFORE_MS, ctx.afterSale.disputeResponseMs / 2);
  const result: SweepResult = { warned: 0, decided: 0, purged: 0 };

  for (const d of await ctx.storage.afterSale.openDueBy(now.toISOString(), SWEEP_BATCH)) {
    if (
      await lostRace(() =>
        decide(ctx, d.id, { decision: 'buyer', by: 'deadline', refund: true, strike: false }),
      )
    )
      continue;
    result.decided += 1;
  }

  const warnBy = new Date(now.getTime() + warnBefore).toISOString();
  for (const d of await ctx.storage.afterSale.unwarnedDueBy(warnBy, SWEEP_BATCH)) {
    const at = now.toISOString();
    const warned = await ctx.storage.transaction(async (tx) => {
      if (!(await tx.afterSale.updateDispute(d.id, 'open', { warned_at: at }))) return false;
      const record = (await tx.records.get(d.record_id))!;
      await enqueueWebhook(tx, at, d.merchant_id, {
        type: 'dispute.deadline_approaching',
        data: {
          disputeId: d.id,
          recordId: d.record_id,
          externalId: record.external_id,
          merchantId: d.merchant_id,
          respondBy: d.deadline_at,
        },
      });
      return true;
    });
    if (warned) result.warned += 1;
  }

  result.purged = await purgeExpiredSecrets(ctx);
  // What the deletion overwrote is made unreadable in SQLite's files too, not left in the -wal.
  if (result.purged > 0) await ctx.storage.purgeOverwritten();
  return result;
}

/** Runs a step; true when another step got there first (a 409 or a duplicate key), false when it ran. */
async function lostRace(step: () => Promise<unknown>): Promise<boolean> {
  try {
    await step();
    return false;
  } catch (err) {
    if ((err instanceof ServiceError && err.statusCode === 409) || isDuplicateKey(err)) return true;
    throw err;
  }
}

/** Runs sweepAfterSale every `everyMs` until stopped (the server starts it with the batcher). */
export class AfterSaleSweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly everyMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = sweepAfterSale(this.ctx)
        .then((done) => {
          if (done.warned + done.decided + done.purged > 0) this.log.info(done, 'after-sale sweep');
        })
        .catch((err: Error) => this.log.warn({ err: err.message }, 'after-sale sweep failed; will retry'))
        .finally(() => {
          this.running = null;
          this.schedule(this.everyMs);
        });
    }, delayMs);
  }
}
