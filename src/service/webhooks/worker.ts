/**
 * The delivery worker. Every instance runs one; they share the outbox through claims, so two never
 * send the same attempt at once, and a crashed instance's claims expire and pass to the others
 * (what is in the database survives restarts and failover). Each pass announces newly final batches
 * (announcer.ts), claims the deliveries that are due, sends them (deliver.ts) and records each
 * attempt: delivered on a 2xx, else retried on the schedule (WEBHOOK_RETRY_SCHEDULE) until it runs
 * out, then failed. At least once: an attempt whose answer was lost (a crash, a timeout after the
 * receiver acted) is made again, with the same `webhook-id`.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ServiceContext } from '../context.ts';
import type {
  WebhookAttemptRow,
  WebhookDeliveryOutcome,
  WebhookDeliveryRow,
  WebhookEndpointRow,
} from '../../storage/rows.ts';
import { announceFinalBatches } from './announcer.ts';
import { postWebhook, type AttemptResult } from './deliver.ts';
import { openSecret, signedHeaders } from './signing.ts';

export interface WebhookWorkerOptions {
  ctx: ServiceContext;
  /** WEBHOOK_ALLOW_PRIVATE: deliver to loopback and private addresses too. */
  allowPrivate: boolean;
  /** WEBHOOK_TIMEOUT_MS: how long one attempt may wait for an answer. */
  timeoutMs: number;
  /** WEBHOOK_RETRY_SCHEDULE: the wait before each retry; the first attempt is immediate. */
  retryScheduleMs: readonly number[];
  /** WEBHOOK_POLL_MS: how often an idle worker looks for work. */
  pollMs: number;
  log: Logger;
}

/** Deliveries claimed per pass, and so sent at once. */
const CLAIM_BATCH = 16;
/** Pages of final batches announced per pass, so a huge batch cannot hold up deliveries. */
const ANNOUNCE_PAGES = 10;

export class WebhookWorker {
  private readonly holder = `${process.pid}-${randomUUID()}`;
  private claims = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;

  constructor(private readonly opts: WebhookWorkerOptions) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops the loop and waits for a pass in flight (its attempts included) to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /**
   * One pass: announce newly final batches, then claim what is due and send it. Returns how much it
   * did (pages announced plus deliveries attempted): more may be waiting when that is not 0.
   */
  async tick(): Promise<number> {
    const { ctx, timeoutMs } = this.opts;
    const announced = await announceFinalBatches(ctx, ANNOUNCE_PAGES);
    const claim = `${this.holder}:${++this.claims}`;
    const now = ctx.now();
    // An attempt ends within the timeout; the claim outlives it, so only a dead worker's claim expires.
    const until = new Date(now.getTime() + 2 * timeoutMs + 5000);
    const due = await ctx.storage.webhooks.claimDue(
      claim,
      now.toISOString(),
      until.toISOString(),
      CLAIM_BATCH,
    );
    await Promise.all(due.map((delivery) => this.attempt(delivery, claim)));
    return announced + due.length;
  }

  /** Sends one claimed delivery and records the attempt; a failure to record is logged, not thrown. */
  private async attempt(delivery: WebhookDeliveryRow, claim: string): Promise<void> {
    const { ctx, log } = this.opts;
    try {
      const [endpoint, message] = await Promise.all([
        ctx.storage.webhooks.endpoint(delivery.endpoint_id),
        ctx.storage.webhooks.message(delivery.message_id),
      ]);
      if (!endpoint || !message) throw new Error('delivery without its endpoint or message');
      const startedAt = ctx.now();
      const result: AttemptResult =
        endpoint.deleted_at !== null
          ? { statusCode: null, error: 'endpoint deleted', latencyMs: 0 }
          : await postWebhook(
              endpoint.url,
              signedHeaders(this.secrets(endpoint, startedAt), message.id, startedAt, message.payload),
              message.payload,
              this.opts,
            );
      const outcome = this.outcome(delivery, result, endpoint.deleted_at !== null);
      const attempt: WebhookAttemptRow = {
        delivery_id: delivery.id,
        attempt: delivery.attempts + 1,
        started_at: startedAt.toISOString(),
        status_code: result.statusCode,
        error: result.error,
        latency_ms: result.latencyMs,
        next_attempt_at: outcome.next_attempt_at,
      };
      const recorded = await ctx.storage.webhooks.finishAttempt(delivery.id, claim, attempt, outcome);
      const fields = {
        messageId: message.id,
        endpointId: endpoint.id,
        type: message.type,
        attempt: attempt.attempt,
        statusCode: result.statusCode,
        latencyMs: result.latencyMs,
        ...(result.error !== null && { error: result.error }),
        ...(outcome.next_attempt_at !== null && { nextAttemptAt: outcome.next_attempt_at }),
      };
      if (!recorded)
        log.warn(fields, 'webhook attempt made after its claim was lost (replayed, or too slow)');
      else if (outcome.status === 'delivered') log.info(fields, 'webhook delivered');
      else if (outcome.status === 'pending') log.warn(fields, 'webhook attempt failed; will retry');
      else log.error(fields, 'webhook delivery gave up after its last retry');
    } catch (err) {
      log.error({ err, deliveryId: delivery.id }, 'webhook attempt could not be made or recorded');
    }
  }

  /** The endpoint's secrets to sign with now: its current one, and the one it replaced while honoured. */
  private secrets(endpoint: WebhookEndpointRow, now: Date): string[] {
    const { keys } = this.opts.ctx;
    const secrets = [openSecret(keys, endpoint.id, endpoint.secret)];
    const until = endpoint.previous_secret_until;
    if (endpoint.previous_secret !== null && until !== null && Date.parse(until) > now.getTime()) {
      secrets.push(openSecret(keys, endpoint.id, endpoint.previous_secret));
    }
    return secrets;
  }

  /** What an attempt's result makes of its delivery: delivered, retried later, or given up. */
  private outcome(
    delivery: WebhookDeliveryRow,
    result: AttemptResult,
    deleted: boolean,
  ): WebhookDeliveryOutcome {
    const at = this.opts.ctx.now();
    const last = { last_status_code: result.statusCode, last_error: result.error };
    if (result.error === null) {
      return {
        ...last,
        status: 'delivered',
        failures: 0,
        next_attempt_at: null,
        delivered_at: at.toISOString(),
      };
    }
    const failures = delivery.failures + 1;
    const wait = deleted ? undefined : this.opts.retryScheduleMs[failures - 1];
    return {
      ...last,
      status: wait === undefined ? 'failed' : 'pending',
      failures,
      next_attempt_at: wait === undefined ? null : new Date(at.getTime() + wait).toISOString(),
      delivered_at: delivery.delivered_at,
    };
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      let busy = false;
      this.running = this.tick()
        .then((done) => {
          busy = done > 0;
        })
        .catch((err: Error) => {
          this.opts.log.warn({ err: err.message }, 'webhook worker pass failed; will retry');
        })
        .finally(() => {
          this.running = null;
          this.schedule(busy ? 0 : this.opts.pollMs);
        });
    }, delayMs);
  }
}
