/**
 * The backlog gauge (src/service/backlog.ts) on the memory store: what it counts (events not yet in
 * a final batch), when it reads the store again, what it adds in between, and the refusal it gives
 * once MAX_PENDING_EVENTS wait.
 */
import { sealBatch } from '../../src/service/sealing.ts';
import { describe, expect, it, vi } from 'vitest';
import { BacklogGauge, backlogRetryAfterSeconds } from '../../src/service/backlog.ts';
import { appendEvent } from '../../src/service/record-events.ts';
import { registerRecords } from '../../src/service/registration.ts';
import { memoryService, moveBatch, verifiedMerchant } from '../helpers/memory-context.ts';
import { recordBody } from '../helpers/records.ts';

/** A gauge over a fresh memory service, on a clock of its own (ms) that the test moves. */
async function gauge(maxPending: number) {
  const service = memoryService();
  const { merchant } = await verifiedMerchant(service.ctx);
  const clock = { ms: 0 };
  const backlog = new BacklogGauge(service.storage.events, maxPending, 7, 1000, () => clock.ms);
  const register = async (prefix: string, n: number) =>
    (
      await registerRecords(
        service.ctx,
        merchant,
        Array.from({ length: n }, (_, i) => recordBody(`${prefix}-${i}`)),
      )
    ).records.map((r) => r.id);
  return { ...service, merchant, backlog, clock, register };
}

describe('the backlog gauge on the memory store', () => {
  it('counts events not in a final batch: unbatched, sealed, submitted and anchored alike', async () => {
    const { ctx, storage, merchant, backlog, clock, register } = await gauge(100);
    const [first] = await register('a', 3);
    await appendEvent(ctx, merchant, first!, 'sold', undefined);
    expect(await backlog.pending()).toBe(4);
    await sealBatch(ctx, 2);
    for (const state of ['sealed', 'submitted', 'anchored'] as const) {
      if (state !== 'sealed') await moveBatch(storage, 1, state);
      clock.ms += 1000;
      expect(await backlog.pending(), state).toBe(4);
    }
    await moveBatch(storage, 1, 'final');
    clock.ms += 1000;
    expect(await backlog.pending()).toBe(2);
  });

  it('reads the store at most once a refresh; what this process accepted in between is added', async () => {
    const { storage, backlog, clock, register } = await gauge(100);
    const count = vi.spyOn(storage.events, 'countAwaitingFinal');
    await register('a', 2);
    expect(await backlog.pending()).toBe(2);
    await register('b', 3);
    backlog.accepted(3);
    clock.ms += 999;
    expect(await backlog.pending()).toBe(5);
    expect(count).toHaveBeenCalledTimes(1);
    // Another instance's writes show up only at the next read.
    await register('c', 4);
    expect(await backlog.pending()).toBe(5);
    clock.ms += 1;
    expect(await backlog.pending()).toBe(9);
    expect(count).toHaveBeenCalledTimes(2);
  });

  it('callers at once share one read', async () => {
    const { storage, backlog, register } = await gauge(100);
    await register('a', 2);
    const count = vi.spyOn(storage.events, 'countAwaitingFinal');
    expect(await Promise.all([backlog.pending(), backlog.pending(), backlog.refusal()])).toEqual([
      2,
      2,
      null,
    ]);
    expect(count).toHaveBeenCalledTimes(1);
  });

  it('a slow read spaces the next one out to ten times its duration', async () => {
    const { storage, backlog, clock, register } = await gauge(100);
    await register('a', 1);
    const real = storage.events.countAwaitingFinal;
    const count = vi.spyOn(storage.events, 'countAwaitingFinal').mockImplementation(async () => {
      clock.ms += 300;
      return real();
    });
    await backlog.pending();
    clock.ms += 2_999;
    await backlog.pending();
    expect(count).toHaveBeenCalledTimes(1);
    clock.ms += 1;
    await backlog.pending();
    expect(count).toHaveBeenCalledTimes(2);
  });

  it('a failed read is tried again on the next call', async () => {
    const { storage, backlog, register } = await gauge(100);
    await register('a', 1);
    storage.faults.failNext('events.countAwaitingFinal', 'before-persist');
    await expect(backlog.pending()).rejects.toMatchObject({ name: 'InjectedStorageFailure' });
    expect(await backlog.pending()).toBe(1);
  });

  it('at MAX_PENDING_EVENTS writes are refused with 503 backlog_full until a read sees it drain', async () => {
    const { ctx, storage, backlog, clock, register } = await gauge(3);
    await register('a', 2);
    expect(await backlog.refusal()).toBeNull();
    await register('b', 1);
    backlog.accepted(1);
    const refusal = await backlog.refusal();
    expect(refusal).toMatchObject({
      statusCode: 503,
      code: 'backlog_full',
      message: 'anchoring is behind: 3 events wait; retry later',
    });
    expect(backlog.retryAfterSeconds).toBe(7);
    await sealBatch(ctx, 100);
    await moveBatch(storage, 1, 'final');
    expect(await backlog.refusal()).not.toBeNull();
    clock.ms += 1000;
    expect(await backlog.refusal()).toBeNull();
  });

  it.each([
    [{ batchMaxAgeMs: 10_000, chainPollMs: 200, confirmations: 1 }, 11],
    [{ batchMaxAgeMs: 0, chainPollMs: 1, confirmations: 1 }, 1],
    [{ batchMaxAgeMs: 3_600_000, chainPollMs: 2_000, confirmations: 12 }, 86],
    [{ batchMaxAgeMs: 60_000, chainPollMs: 60_000, confirmations: 12 }, 300],
  ])('Retry-After for %o is %i s: about one batch cycle, 1 s to 5 min', (opts, seconds) => {
    expect(backlogRetryAfterSeconds(opts)).toBe(seconds);
  });
});
