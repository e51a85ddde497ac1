/**
 * The webhook outbox's rules on the memory store, with injected storage failures: a message is
 * written with the change it reports or not at all; item.final announces each final batch once, in
 * pages of 1,000 leaves, every event of it in exactly one message, even with workers racing; and
 * workers sharing the outbox never send one attempt twice.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createServiceContext, type ServiceContext } from '../../src/service/context.ts';
import { strikeMerchant } from '../../src/service/merchants.ts';
import { ServerKey } from '../../src/service/server-key.ts';
import { announceFinalBatches, ITEM_FINAL_PAGE_LEAVES } from '../../src/service/webhooks/announcer.ts';
import { createEndpoint } from '../../src/service/webhooks/endpoints.ts';
import { WebhookWorker } from '../../src/service/webhooks/worker.ts';
import { InjectedStorageFailure } from '../../src/storage/memory/faults.ts';
import { MemoryStorage } from '../../src/storage/memory/memory-storage.ts';
import { at, lead, seal, seedRecords } from '../storage/fixtures.ts';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.ts';

const SETTINGS = { allowPrivate: true };

function context(storage = new MemoryStorage()): ServiceContext & { storage: MemoryStorage } {
  return {
    ...createServiceContext({ storage, keys: ServerKey.generate(), publicBaseUrl: 'http://proofmark.test' }),
    storage,
  };
}

/** Seals every waiting event into one batch and makes it final; returns its id. */
async function finalBatch(storage: MemoryStorage, maxLeaves = 100_000): Promise<number> {
  const batch = (await seal(storage, maxLeaves))!;
  const fence = await lead(storage);
  expect(await storage.batches.transition(batch.id, 'sealed', 'final', { final_at: at(300) }, fence)).toBe(
    true,
  );
  return batch.id;
}

interface ItemFinal {
  merchantId: string;
  batch: { id: number };
  part: number;
  parts: number;
  records: Array<{ id: string; externalId: string; events: Array<{ seq: number }> }>;
}

/** Every item.final message in the outbox, parsed. */
async function itemFinals(ctx: ServiceContext, endpointIds: string[]): Promise<ItemFinal[]> {
  const out: ItemFinal[] = [];
  for (const id of endpointIds) {
    for (const d of await ctx.storage.webhooks.deliveries(id, null, 1000)) {
      const message = await ctx.storage.webhooks.message(d.message_id);
      out.push((JSON.parse(message!.payload) as { data: ItemFinal }).data);
    }
  }
  return out;
}

const receivers: Receiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});

describe('the outbox is written with the change it reports', () => {
  it('a strike that does not commit leaves no message; one that commits leaves exactly one', async () => {
    const ctx = context();
    await seedRecords(ctx.storage, 'm_shop', []);
    const endpoint = await createEndpoint(
      ctx,
      SETTINGS,
      { merchantId: 'm_shop' },
      { url: 'http://127.0.0.1:9/' },
    );
    for (const [operation, when] of [
      ['commit', 'before-persist'],
      ['merchants.update', 'before-persist'],
      ['webhooks.enqueue', 'before-persist'],
      ['webhooks.enqueue', 'after-persist'],
    ] as const) {
      ctx.storage.faults.failNext(operation, when);
      // The second strike (suspension) is where merchants.update runs: strike once before it.
      if (operation === 'merchants.update') await strikeMerchant(ctx, 'm_shop', 'the warning');
      await expect(strikeMerchant(ctx, 'm_shop', `failed at ${operation}`)).rejects.toBeInstanceOf(
        InjectedStorageFailure,
      );
      const deliveries = await ctx.storage.webhooks.deliveries(endpoint.endpoint.id, null, 100);
      const strikes = await ctx.storage.merchants.strikes('m_shop');
      // One message per strike that happened, none for those that did not.
      expect(deliveries, `${operation} ${when}`).toHaveLength(strikes.length);
    }
    await strikeMerchant(ctx, 'm_shop', 'the suspension');
    const deliveries = await ctx.storage.webhooks.deliveries(endpoint.endpoint.id, null, 100);
    expect(deliveries).toHaveLength(2);
  });
});

describe('item.final', () => {
  it('announces a large final batch once, in 1,000-leaf parts, each event in exactly one message', async () => {
    const ctx = context();
    const ids = (prefix: string, n: number) =>
      Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);
    await seedRecords(ctx.storage, 'm_a', ids('a', 1500));
    await seedRecords(ctx.storage, 'm_b', ids('b', 1000));
    await seedRecords(ctx.storage, 'm_quiet', ids('q', 10));
    const a = await createEndpoint(ctx, SETTINGS, { merchantId: 'm_a' }, { url: 'http://127.0.0.1:9/a' });
    const b = await createEndpoint(ctx, SETTINGS, { merchantId: 'm_b' }, { url: 'http://127.0.0.1:9/b' });
    const batchId = await finalBatch(ctx.storage);

    // Three workers racing over the same batch: each page is announced by one of them.
    const counts = await Promise.all([1, 2, 3].map(() => announceFinalBatches(ctx, 100)));
    expect(counts.reduce((x, y) => x + y, 0)).toBe(Math.ceil(2510 / ITEM_FINAL_PAGE_LEAVES));
    expect(await announceFinalBatches(ctx, 100)).toBe(0);
    expect(await ctx.storage.webhooks.unannouncedFinalBatches(10)).toEqual([]);

    for (const [endpoint, merchantId, expected] of [
      [a, 'm_a', ids('a', 1500)],
      [b, 'm_b', ids('b', 1000)],
    ] as const) {
      const messages = await itemFinals(ctx, [endpoint.endpoint.id]);
      expect(
        messages.every((m) => m.merchantId === merchantId && m.batch.id === batchId && m.parts === 3),
      ).toBe(true);
      expect(messages.every((m) => m.records.length <= ITEM_FINAL_PAGE_LEAVES)).toBe(true);
      const announced = messages.flatMap((m) => m.records.map((r) => r.id));
      expect(announced.sort()).toEqual([...expected].sort());
      expect(new Set(messages.map((m) => m.part)).size).toBe(messages.length);
    }
  });

  it('announces only final batches, and batches that became final before any endpoint existed', async () => {
    const ctx = context();
    await seedRecords(ctx.storage, 'm_a', ['r1']);
    const early = await finalBatch(ctx.storage);
    const endpoint = await createEndpoint(
      ctx,
      SETTINGS,
      { merchantId: 'm_a' },
      { url: 'http://127.0.0.1:9/' },
    );
    await seedRecords(ctx.storage, 'm_a', ['r2']);
    await seal(ctx.storage);
    expect(await announceFinalBatches(ctx, 10)).toBe(1);
    const [message] = await itemFinals(ctx, [endpoint.endpoint.id]);
    // The batch still sealed is not announced; the one final before the endpoint existed is, now.
    expect(message!.batch.id).toBe(early);
    expect(message!.records.map((r) => r.id)).toEqual(['r1']);
  });
});

describe('workers sharing the outbox', () => {
  it('send each message once when every attempt succeeds, however many workers tick at once', async () => {
    const ctx = context();
    const receiver = await startReceiver('ok');
    receivers.push(receiver);
    await seedRecords(ctx.storage, 'm_a', []);
    await createEndpoint(ctx, SETTINGS, 'operator', { url: receiver.url, eventTypes: ['merchant.strike'] });
    for (let i = 0; i < 12; i++) {
      const id = `m_${i}`;
      await seedRecords(ctx.storage, id, []);
      await strikeMerchant(ctx, id, 'one');
      await strikeMerchant(ctx, id, 'two');
    }
    const log = pino({ level: 'silent' });
    const workers = [1, 2, 3].map(
      () => new WebhookWorker({ ctx, ...SETTINGS, timeoutMs: 2000, retryScheduleMs: [100], pollMs: 10, log }),
    );
    for (let pass = 0; pass < 5; pass++) await Promise.all(workers.map((w) => w.tick()));
    const ids = receiver.received.map((r) => r.headers['webhook-id']);
    expect(ids).toHaveLength(24);
    expect(new Set(ids).size).toBe(24);
  });
});
