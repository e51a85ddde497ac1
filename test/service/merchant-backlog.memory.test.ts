/**
 * Each merchant's share of the anchoring backlog (src/service/merchant-backlog.ts) on the memory
 * store: what it counts per merchant, the refusal that says it is the merchant's own backlog and
 * leaves other merchants writing, and that it reads the store in one grouped read at most once a
 * refresh, adding what was accepted in between.
 */
import { sealBatch } from '../../src/service/sealing.ts';
import { describe, expect, it, vi } from 'vitest';
import { MerchantBacklog } from '../../src/service/merchant-backlog.ts';
import type { Merchant } from '../../src/service/merchants.ts';
import { appendEvent } from '../../src/service/record-events.ts';
import { registerRecords } from '../../src/service/registration.ts';
import { memoryService, moveBatch, verifiedMerchant } from '../helpers/memory-context.ts';
import { recordBody } from '../helpers/records.ts';

async function twoMerchants(maxPerMerchant: number) {
  const service = memoryService();
  const { merchant: flooder } = await verifiedMerchant(service.ctx, 'Flood Shop');
  const { merchant: quiet } = await verifiedMerchant(service.ctx, 'Quiet Shop');
  const clock = { ms: 0 };
  const total = { pending: Number.POSITIVE_INFINITY };
  const backlog = new MerchantBacklog(
    service.storage.events,
    maxPerMerchant,
    async () => total.pending,
    1000,
    () => clock.ms,
  );
  const register = async (merchant: Merchant, prefix: string, n: number) =>
    (
      await registerRecords(
        service.ctx,
        merchant,
        Array.from({ length: n }, (_, i) => recordBody(`${prefix}-${i}`)),
      )
    ).records.map((r) => r.id);
  return { ...service, flooder, quiet, backlog, clock, total, register };
}

describe("a merchant's share of the backlog on the memory store", () => {
  it("counts each merchant's own events not in a final batch", async () => {
    const { ctx, storage, flooder, quiet, backlog, clock, register } = await twoMerchants(100);
    const [first] = await register(flooder, 'f', 3);
    await appendEvent(ctx, flooder, first!, 'sold', undefined);
    await register(quiet, 'q', 2);
    expect(await backlog.pendingOf(flooder.id)).toBe(4);
    expect(await backlog.pendingOf(quiet.id)).toBe(2);
    await sealBatch(ctx, 100);
    await moveBatch(storage, 1, 'final');
    clock.ms += 1000;
    expect(await backlog.pendingOf(flooder.id)).toBe(0);
    expect(await backlog.pendingOf(quiet.id)).toBe(0);
  });

  it('refuses the merchant at its share, saying so, and only that merchant', async () => {
    const { flooder, quiet, backlog, register } = await twoMerchants(3);
    await register(flooder, 'f', 3);
    await register(quiet, 'q', 2);
    const refusal = await backlog.refusal(flooder.id);
    expect(refusal).toMatchObject({ statusCode: 503, code: 'backlog_full' });
    expect(refusal!.message).toBe(
      'your anchoring backlog is full: 3 of your events wait (at most 3 per merchant); other merchants are not affected; retry later',
    );
    expect(await backlog.refusal(quiet.id)).toBeNull();
  });

  it('reads nothing while the whole backlog is below one share: no merchant can be at it', async () => {
    const { storage, flooder, backlog, total, register } = await twoMerchants(3);
    await register(flooder, 'f', 5);
    const read = vi.spyOn(storage.events, 'awaitingFinalByMerchant');
    total.pending = 2;
    expect(await backlog.refusal(flooder.id)).toBeNull();
    expect(read).not.toHaveBeenCalled();
    total.pending = 5;
    expect((await backlog.refusal(flooder.id))?.statusCode).toBe(503);
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('reads every merchant in one grouped read at most once a refresh, and adds what it accepted meanwhile', async () => {
    const { storage, flooder, quiet, backlog, clock, register } = await twoMerchants(5);
    const read = vi.spyOn(storage.events, 'awaitingFinalByMerchant');
    expect(await backlog.pendingOf(flooder.id)).toBe(0);
    expect(await backlog.pendingOf(quiet.id)).toBe(0);
    expect(read).toHaveBeenCalledTimes(1);
    await register(flooder, 'f', 2);
    backlog.accepted(flooder.id, 2);
    clock.ms += 999;
    expect(await backlog.pendingOf(flooder.id)).toBe(2);
    backlog.accepted(flooder.id, 3);
    expect((await backlog.refusal(flooder.id))?.statusCode).toBe(503);
    expect(read).toHaveBeenCalledTimes(1);
    // The next read replaces what was added with what is stored.
    clock.ms += 1;
    expect(await backlog.pendingOf(flooder.id)).toBe(2);
    expect(read).toHaveBeenCalledTimes(2);
  });
});
