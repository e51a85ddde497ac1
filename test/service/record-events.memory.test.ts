/**
 * Lifecycle events (src/service/record-events.ts) on the memory store: every rule of
 * src/core/lifecycle.ts as the service applies it, how each event is chained to the one before,
 * who may add one, and two events racing for the same place in a record's chain.
 */
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, type MerchantEventType as EventType, type Hex } from '../../src/core/index.ts';
import { leafOfJson } from '../../src/service/leaves.ts';
import { appendEvent } from '../../src/service/record-events.ts';
import { registerRecords } from '../../src/service/registration.ts';
import type { Merchant } from '../../src/service/merchants.ts';
import type { ServiceContext } from '../../src/service/context.ts';
import { outcome } from '../helpers/outcome.ts';
import { memoryService, verifiedMerchant } from '../helpers/memory-context.ts';
import { recordBody } from '../helpers/records.ts';
import { StaleReadStorage } from '../helpers/stale-reads.ts';

async function oneRecord(ctx: ServiceContext, merchant: Merchant, externalId = 'item'): Promise<string> {
  return (await registerRecords(ctx, merchant, [recordBody(externalId)])).records[0]!.id;
}

interface Rule {
  /** Events added before, in order (each allowed). */
  after: EventType[];
  event: EventType;
  /** 'ok', or the 409's message. */
  expect: string;
  /** The record's head afterwards, when allowed. */
  head?: { state: string; sold: number; activated: number };
}

const active = (sold: number, activated: number) => ({ state: 'active', sold, activated });

/** Every rule of the lifecycle, through the service. */
const RULES: Rule[] = [
  { after: [], event: 'sold', expect: 'ok', head: active(1, 0) },
  { after: ['sold'], event: 'sold', expect: 'the record was already sold; record a transfer instead' },
  { after: [], event: 'activated', expect: 'ok', head: active(0, 1) },
  { after: ['activated'], event: 'activated', expect: 'the record was already activated' },
  { after: ['sold', 'activated'], event: 'transferred', expect: 'ok', head: active(1, 1) },
  { after: ['transferred', 'transferred'], event: 'transferred', expect: 'ok', head: active(0, 0) },
  { after: [], event: 'revoked', expect: 'ok', head: { state: 'revoked', sold: 0, activated: 0 } },
  { after: ['sold'], event: 'refunded', expect: 'ok', head: { state: 'refunded', sold: 1, activated: 0 } },
  { after: [], event: 'refunded', expect: 'a record that was never sold cannot be refunded' },
  ...EVENT_TYPES.map((event): Rule => ({
    after: ['revoked'],
    event,
    expect: 'the record is revoked: no event may follow',
  })),
  ...EVENT_TYPES.map((event): Rule => ({
    after: ['sold', 'refunded'],
    event,
    expect: 'the record is refunded: no event may follow',
  })),
];

describe('lifecycle events on the memory store', () => {
  it('every event type has a rule that allows it and one that ends the record before it', () => {
    for (const type of EVENT_TYPES) {
      expect(RULES.some((r) => r.event === type && r.expect === 'ok')).toBe(true);
    }
  });

  it.each(RULES.map((r) => [[...r.after, r.event].join(' -> '), r] as const))('%s', async (_name, rule) => {
    const { ctx, storage } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    const id = await oneRecord(ctx, merchant);
    for (const type of rule.after) await appendEvent(ctx, merchant, id, type, undefined);
    const before = await storage.records.get(id);
    const result = appendEvent(ctx, merchant, id, rule.event, undefined);
    if (rule.expect === 'ok') {
      await result;
      expect(await storage.records.get(id)).toMatchObject({ ...rule.head, head_seq: rule.after.length + 1 });
    } else {
      await expect(result).rejects.toMatchObject({
        statusCode: 409,
        code: 'lifecycle_violation',
        message: rule.expect,
      });
      expect(await storage.records.get(id)).toEqual(before);
      expect(await storage.events.ofRecord(id)).toHaveLength(rule.after.length + 1);
    }
  });

  it('chains each event to the one before: seq + 1, prev_leaf, and a leaf over its canonical content', async () => {
    const { ctx, storage, clock } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    const id = await oneRecord(ctx, merchant);
    clock.advance(5_000);
    const sold = await appendEvent(ctx, merchant, id, 'sold', { buyer: 'b-1', price: 12.5 });
    clock.advance(5_000);
    const transferred = await appendEvent(ctx, merchant, id, 'transferred', undefined);
    const events = await storage.events.ofRecord(id);
    expect(events.map((e) => [e.seq, e.type])).toEqual([
      [0, 'issued'],
      [1, 'sold'],
      [2, 'transferred'],
    ]);
    for (const [i, e] of events.entries()) {
      if (i > 0) expect(e.prev_leaf).toBe(events[i - 1]!.leaf);
      expect(e.leaf).toBe(leafOfJson(id, e.seq, e.prev_leaf as Hex, e.content));
      expect(e.batch_id).toBeNull();
    }
    expect(events[1]).toMatchObject({ ...sold, batch_status: null });
    expect(JSON.parse(sold.content)).toEqual({
      type: 'sold',
      data: { buyer: 'b-1', price: 12.5 },
      at: '2025-01-01T00:00:05.000Z',
      salt: expect.stringMatching(/^0x[0-9a-f]{64}$/),
    });
    expect(JSON.parse(transferred.content)).toMatchObject({ data: {}, at: '2025-01-01T00:00:10.000Z' });
    expect(await storage.events.unbatched(10)).toEqual({ count: 3, oldestAt: '2025-01-01T00:00:00.000Z' });
  });

  it("404 for no such record, 403 for another merchant's; neither writes", async () => {
    const { ctx, storage } = memoryService();
    const owner = await verifiedMerchant(ctx, 'Owner');
    const other = await verifiedMerchant(ctx, 'Other');
    const id = await oneRecord(ctx, owner.merchant);
    expect(await outcome(appendEvent(ctx, owner.merchant, 'no-such-record', 'sold', undefined))).toBe(
      '404 record_not_found',
    );
    expect(await outcome(appendEvent(ctx, other.merchant, id, 'sold', undefined))).toBe(
      '403 not_record_owner',
    );
    expect(await storage.events.ofRecord(id)).toHaveLength(1);
    expect(await storage.records.get(id)).toMatchObject({ head_seq: 0, sold: 0 });
  });

  it('two events at once on the memory store: both chained, one after the other', async () => {
    const { ctx, storage } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    const id = await oneRecord(ctx, merchant);
    await Promise.all([
      appendEvent(ctx, merchant, id, 'transferred', { to: 'a' }),
      appendEvent(ctx, merchant, id, 'transferred', { to: 'b' }),
    ]);
    const events = await storage.events.ofRecord(id);
    expect(events.map((e) => e.seq)).toEqual([0, 1, 2]);
    expect(events[2]!.prev_leaf).toBe(events[1]!.leaf);
  });

  it('two sales at once: one is recorded, the other refused by the lifecycle', async () => {
    const { ctx } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    const id = await oneRecord(ctx, merchant);
    const outcomes = await Promise.all([
      outcome(appendEvent(ctx, merchant, id, 'sold', undefined)),
      outcome(appendEvent(ctx, merchant, id, 'sold', undefined)),
    ]);
    expect(outcomes.sort()).toEqual(['409 lifecycle_violation', 'ok']);
  });

  it('an event that read the head before a rival committed is 409 concurrent_event; the chain holds one', async () => {
    const { ctx, storage } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    const id = await oneRecord(ctx, merchant);
    const racing = new StaleReadStorage(storage);
    racing.answerNext('records.get', (await storage.records.get(id))!);
    const rival = await appendEvent(ctx, merchant, id, 'transferred', { to: 'rival' });
    expect(
      await outcome(appendEvent({ ...ctx, storage: racing }, merchant, id, 'transferred', { to: 'late' })),
    ).toBe('409 concurrent_event');
    expect(racing.pending()).toBe(0);
    const events = await storage.events.ofRecord(id);
    expect(events.map((e) => e.leaf)).toEqual([events[0]!.leaf, rival.leaf]);
    expect(await storage.records.get(id)).toMatchObject({ head_seq: 1 });
    // A retry reads the new head and goes on from it.
    await appendEvent({ ...ctx, storage: racing }, merchant, id, 'transferred', { to: 'late' });
    expect((await storage.events.ofRecord(id)).map((e) => e.seq)).toEqual([0, 1, 2]);
  });
});
