/**
 * WebhookStore: endpoints, the outbox and its claims, the attempt log, and item.final announcements
 * of final batches.
 */
import { expect, it } from 'vitest';
import { DuplicateKeyError } from '../../../src/storage/errors.ts';
import type {
  WebhookAttemptRow,
  WebhookDeliveryOutcome,
  WebhookDeliveryRow,
  WebhookEndpointRow,
  WebhookMessageRow,
} from '../../../src/storage/rows.ts';
import type { Storage, Stores } from '../../../src/storage/storage.ts';
import { at, lead, seal, seedRecords } from '../fixtures.ts';

function endpointRow(id: string, change: Partial<WebhookEndpointRow> = {}): WebhookEndpointRow {
  return {
    id,
    owner: 'm1',
    url: `https://hooks.example/${id}`,
    description: '',
    event_types: '["item.final","merchant.strike"]',
    secret: `v1.sealed-${id}`,
    previous_secret: null,
    previous_secret_until: null,
    created_at: at(0),
    deleted_at: null,
    ...change,
  };
}

function messageRow(id: string, createdAt = at(0)): WebhookMessageRow {
  return { id, type: 'item.final', payload: `{"id":"${id}"}`, created_at: createdAt };
}

function deliveryRow(
  id: string,
  messageId: string,
  endpointId: string,
  change: Partial<WebhookDeliveryRow> = {},
): WebhookDeliveryRow {
  return {
    id,
    message_id: messageId,
    endpoint_id: endpointId,
    status: 'pending',
    attempts: 0,
    failures: 0,
    next_attempt_at: at(10),
    claimed_by: null,
    claim_expires_at: null,
    created_at: at(10),
    last_status_code: null,
    last_error: null,
    delivered_at: null,
    ...change,
  };
}

function attemptRow(deliveryId: string, attempt: number, change: Partial<WebhookAttemptRow> = {}) {
  return {
    delivery_id: deliveryId,
    attempt,
    started_at: at(20),
    status_code: 200,
    error: null,
    latency_ms: 12,
    next_attempt_at: null,
    ...change,
  } satisfies WebhookAttemptRow;
}

const delivered: WebhookDeliveryOutcome = {
  status: 'delivered',
  failures: 0,
  next_attempt_at: null,
  last_status_code: 200,
  last_error: null,
  delivered_at: at(20),
};

/** Endpoint e1 of merchant m1 and message msg1 with one delivery d1 to it, due at at(10). */
async function oneDelivery(s: Stores, change: Partial<WebhookDeliveryRow> = {}): Promise<void> {
  await s.webhooks.insertEndpoint(endpointRow('e1'));
  await s.webhooks.enqueue(messageRow('msg1'), [deliveryRow('d1', 'msg1', 'e1', change)]);
}

export function webhookBehaviour(storage: () => Storage): void {
  it('keeps endpoints and lists an owner’s live ones oldest first', async () => {
    const s = storage();
    await s.webhooks.insertEndpoint(endpointRow('e2', { created_at: at(1) }));
    await s.webhooks.insertEndpoint(endpointRow('e1', { created_at: at(1) }));
    await s.webhooks.insertEndpoint(endpointRow('e0', { created_at: at(2) }));
    await s.webhooks.insertEndpoint(endpointRow('op', { owner: 'operator' }));
    await expect(s.webhooks.insertEndpoint(endpointRow('e1'))).rejects.toBeInstanceOf(DuplicateKeyError);
    expect(await s.webhooks.endpoint('e1')).toEqual(endpointRow('e1', { created_at: at(1) }));
    expect(await s.webhooks.endpoint('nope')).toBeUndefined();
    expect((await s.webhooks.endpoints('m1')).map((e) => e.id)).toEqual(['e1', 'e2', 'e0']);
    expect((await s.webhooks.endpoints('operator')).map((e) => e.id)).toEqual(['op']);
    expect(await s.webhooks.endpoints('m2')).toEqual([]);
  });

  it('finds the live subscribers of an event type among the owners asked', async () => {
    const s = storage();
    await s.webhooks.insertEndpoint(endpointRow('e1', { event_types: '["item.final"]' }));
    await s.webhooks.insertEndpoint(endpointRow('e2', { event_types: '["merchant.strike"]' }));
    await s.webhooks.insertEndpoint(
      endpointRow('e3', { owner: 'operator', event_types: '["merchant.strike","dispute.opened"]' }),
    );
    await s.webhooks.insertEndpoint(endpointRow('e4', { owner: 'm2' }));
    await s.webhooks.insertEndpoint(endpointRow('e5', { deleted_at: at(1) }));
    const ids = async (owners: string[], type: string) =>
      (await s.webhooks.subscribers(owners, type)).map((e) => e.id);
    expect(await ids(['m1'], 'item.final')).toEqual(['e1']);
    expect(await ids(['m1', 'operator'], 'merchant.strike')).toEqual(['e2', 'e3']);
    expect(await ids(['m1'], 'dispute.opened')).toEqual([]);
    expect(await ids([], 'item.final')).toEqual([]);
  });

  it('rotates the secrets of a live endpoint only', async () => {
    const s = storage();
    await s.webhooks.insertEndpoint(endpointRow('e1'));
    const change = { secret: 'v1.new', previous_secret: 'v1.sealed-e1', previous_secret_until: at(5) };
    expect(await s.webhooks.rotateSecret('e1', change)).toBe(true);
    expect(await s.webhooks.endpoint('e1')).toEqual(endpointRow('e1', change));
    expect(await s.webhooks.rotateSecret('nope', change)).toBe(false);
    await s.webhooks.deleteEndpoint('e1', at(6));
    expect(await s.webhooks.rotateSecret('e1', { ...change, secret: 'v1.later' })).toBe(false);
    expect((await s.webhooks.endpoint('e1'))?.secret).toBe('v1.new');
  });

  it('deletes an endpoint once, giving up its pending deliveries, keeping its log', async () => {
    const s = storage();
    await s.webhooks.insertEndpoint(endpointRow('e1'));
    await s.webhooks.insertEndpoint(endpointRow('e2'));
    await s.webhooks.enqueue(messageRow('msg1'), [
      deliveryRow('d1', 'msg1', 'e1'),
      deliveryRow('d2', 'msg1', 'e2'),
    ]);
    await s.webhooks.enqueue(messageRow('msg2'), [
      deliveryRow('d3', 'msg2', 'e1', { status: 'delivered', next_attempt_at: null, delivered_at: at(11) }),
    ]);
    expect(await s.webhooks.deleteEndpoint('e1', at(30))).toBe(true);
    expect(await s.webhooks.deleteEndpoint('e1', at(31))).toBe(false);
    expect(await s.webhooks.deleteEndpoint('nope', at(31))).toBe(false);
    expect(await s.webhooks.endpoint('e1')).toMatchObject({ deleted_at: at(30) });
    expect((await s.webhooks.endpoints('m1')).map((e) => e.id)).toEqual(['e2']);
    expect(await s.webhooks.delivery('e1', 'msg1')).toMatchObject({
      status: 'failed',
      last_error: 'endpoint deleted',
      next_attempt_at: null,
    });
    expect(await s.webhooks.delivery('e1', 'msg2')).toMatchObject({ status: 'delivered' });
    expect(await s.webhooks.delivery('e2', 'msg1')).toMatchObject({ status: 'pending' });
    expect((await s.webhooks.claimDue('w', at(100), at(200), 10)).map((d) => d.id)).toEqual(['d2']);
  });

  it('enqueues a message with its deliveries all or none', async () => {
    const s = storage();
    await s.webhooks.insertEndpoint(endpointRow('e1'));
    await s.webhooks.insertEndpoint(endpointRow('e2'));
    await s.webhooks.enqueue(messageRow('msg1'), [deliveryRow('d1', 'msg1', 'e1')]);
    expect(await s.webhooks.message('msg1')).toEqual(messageRow('msg1'));
    expect(await s.webhooks.message('nope')).toBeUndefined();
    expect(await s.webhooks.delivery('e1', 'msg1')).toEqual(deliveryRow('d1', 'msg1', 'e1'));
    expect(await s.webhooks.delivery('e2', 'msg1')).toBeUndefined();

    for (const [message, deliveries] of [
      [messageRow('msg1'), []],
      [messageRow('msg2'), [deliveryRow('d1', 'msg2', 'e1')]],
      [messageRow('msg3'), [deliveryRow('d3', 'msg3', 'e1'), deliveryRow('d4', 'msg3', 'e1')]],
    ] as const) {
      await expect(s.webhooks.enqueue(message, deliveries)).rejects.toBeInstanceOf(DuplicateKeyError);
    }
    expect(await s.webhooks.message('msg2')).toBeUndefined();
    expect(await s.webhooks.message('msg3')).toBeUndefined();
    expect(await s.webhooks.delivery('e1', 'msg3')).toBeUndefined();
  });

  it('claims due, unclaimed deliveries earliest first, up to the limit', async () => {
    const s = storage();
    await s.webhooks.insertEndpoint(endpointRow('e1'));
    await s.webhooks.enqueue(messageRow('msg1'), [
      deliveryRow('d1', 'msg1', 'e1', { next_attempt_at: at(12) }),
    ]);
    await s.webhooks.enqueue(messageRow('msg2'), [
      deliveryRow('d2', 'msg2', 'e1', { next_attempt_at: at(11) }),
    ]);
    await s.webhooks.enqueue(messageRow('msg3'), [
      deliveryRow('d3', 'msg3', 'e1', { next_attempt_at: at(50) }),
    ]);
    await s.webhooks.enqueue(messageRow('msg4'), [
      deliveryRow('d4', 'msg4', 'e1', { status: 'delivered', next_attempt_at: null }),
    ]);
    await s.webhooks.enqueue(messageRow('msg5'), [
      deliveryRow('d5', 'msg5', 'e1', { status: 'failed', next_attempt_at: null }),
    ]);
    expect(await s.webhooks.claimDue('w1', at(9), at(40), 10)).toEqual([]);
    const first = await s.webhooks.claimDue('w1', at(12), at(40), 1);
    expect(first).toEqual([
      deliveryRow('d2', 'msg2', 'e1', {
        next_attempt_at: at(11),
        claimed_by: 'w1',
        claim_expires_at: at(40),
      }),
    ]);
    expect((await s.webhooks.claimDue('w2', at(12), at(40), 10)).map((d) => d.id)).toEqual(['d1']);
    expect(await s.webhooks.claimDue('w3', at(20), at(40), 10)).toEqual([]);
    expect(await s.webhooks.delivery('e1', 'msg1')).toMatchObject({
      claimed_by: 'w2',
      claim_expires_at: at(40),
    });
  });

  it('passes on a claim once it has expired, and not before', async () => {
    const s = storage();
    await oneDelivery(s);
    expect(await s.webhooks.claimDue('w1', at(10), at(40), 10)).toHaveLength(1);
    expect(await s.webhooks.claimDue('w2', at(40), at(80), 10)).toEqual([]);
    const taken = await s.webhooks.claimDue('w2', at(41), at(80), 10);
    expect(taken).toMatchObject([{ id: 'd1', claimed_by: 'w2', claim_expires_at: at(80) }]);
  });

  it('never gives one delivery to two claims racing for it', async () => {
    const s = storage();
    await s.webhooks.insertEndpoint(endpointRow('e1'));
    for (let i = 0; i < 20; i++) {
      const id = String(i).padStart(2, '0');
      await s.webhooks.enqueue(messageRow(`msg${id}`), [deliveryRow(`d${id}`, `msg${id}`, 'e1')]);
    }
    const claims = await Promise.all(
      Array.from({ length: 6 }, (_, w) => s.webhooks.claimDue(`w${w}`, at(10), at(40), 5)),
    );
    const ids = claims.flat().map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeLessThanOrEqual(20);
  });

  it('finishes an attempt only under the claim that made it, once, and logs it', async () => {
    const s = storage();
    await oneDelivery(s);
    await s.webhooks.claimDue('w1', at(10), at(40), 10);
    expect(await s.webhooks.finishAttempt('d1', 'w2', attemptRow('d1', 1), delivered)).toBe(false);
    expect(await s.webhooks.finishAttempt('d1', 'w1', attemptRow('d1', 2), delivered)).toBe(false);
    expect(await s.webhooks.attempts(['d1'])).toEqual([]);
    expect(await s.webhooks.finishAttempt('d1', 'w1', attemptRow('d1', 1), delivered)).toBe(true);
    expect(await s.webhooks.finishAttempt('d1', 'w1', attemptRow('d1', 1), delivered)).toBe(false);
    expect(await s.webhooks.delivery('e1', 'msg1')).toEqual(
      deliveryRow('d1', 'msg1', 'e1', { ...delivered, attempts: 1 }),
    );
    expect(await s.webhooks.attempts(['d1'])).toEqual([attemptRow('d1', 1)]);
    expect(await s.webhooks.claimDue('w1', at(100), at(200), 10)).toEqual([]);
  });

  it('keeps a failed attempt’s retry due, and logs attempts in order', async () => {
    const s = storage();
    await oneDelivery(s);
    const retry: WebhookDeliveryOutcome = {
      status: 'pending',
      failures: 1,
      next_attempt_at: at(15),
      last_status_code: 503,
      last_error: 'HTTP 503',
      delivered_at: null,
    };
    await s.webhooks.claimDue('w1', at(10), at(40), 10);
    const failed = attemptRow('d1', 1, { status_code: 503, error: 'HTTP 503', next_attempt_at: at(15) });
    expect(await s.webhooks.finishAttempt('d1', 'w1', failed, retry)).toBe(true);
    expect(await s.webhooks.claimDue('w1', at(14), at(40), 10)).toEqual([]);
    const [again] = await s.webhooks.claimDue('w2', at(15), at(40), 10);
    expect(again).toMatchObject({
      id: 'd1',
      attempts: 1,
      failures: 1,
      last_status_code: 503,
      claimed_by: 'w2',
    });
    expect(await s.webhooks.finishAttempt('d1', 'w2', attemptRow('d1', 2), delivered)).toBe(true);
    expect((await s.webhooks.attempts(['d1', 'nope'])).map((a) => a.attempt)).toEqual([1, 2]);
  });

  it('requeues any delivery at once, dropping its claim and its failure count', async () => {
    const s = storage();
    await oneDelivery(s, { status: 'failed', failures: 8, attempts: 8, next_attempt_at: null });
    expect(await s.webhooks.requeue('d1', at(50))).toBe(true);
    expect(await s.webhooks.requeue('nope', at(50))).toBe(false);
    expect(await s.webhooks.delivery('e1', 'msg1')).toMatchObject({
      status: 'pending',
      failures: 0,
      attempts: 8,
      next_attempt_at: at(50),
    });
    await s.webhooks.claimDue('w1', at(50), at(90), 10);
    expect(await s.webhooks.requeue('d1', at(51))).toBe(true);
    // The attempt in flight when it was requeued can no longer finish it.
    expect(await s.webhooks.finishAttempt('d1', 'w1', attemptRow('d1', 9), delivered)).toBe(false);
    expect(await s.webhooks.claimDue('w2', at(51), at(90), 10)).toMatchObject([
      { id: 'd1', claimed_by: 'w2' },
    ]);
  });

  it('pages an endpoint’s deliveries newest first, with their message types', async () => {
    const s = storage();
    await s.webhooks.insertEndpoint(endpointRow('e1'));
    await s.webhooks.insertEndpoint(endpointRow('e2'));
    const times = [at(1), at(2), at(2), at(3)];
    for (const [i, createdAt] of times.entries()) {
      await s.webhooks.enqueue({ ...messageRow(`msg${i}`), type: `t${i}` }, [
        deliveryRow(`d${i}`, `msg${i}`, 'e1', { created_at: createdAt }),
        deliveryRow(`x${i}`, `msg${i}`, 'e2', { created_at: createdAt }),
      ]);
    }
    const page1 = await s.webhooks.deliveries('e1', null, 2);
    expect(page1.map((d) => [d.id, d.type])).toEqual([
      ['d3', 't3'],
      ['d2', 't2'],
    ]);
    const page2 = await s.webhooks.deliveries('e1', page1[1]!, 2);
    expect(page2.map((d) => d.id)).toEqual(['d1', 'd0']);
    expect(await s.webhooks.deliveries('e1', page2[1]!, 2)).toEqual([]);
    expect(page2[0]).toEqual({ ...deliveryRow('d1', 'msg1', 'e1', { created_at: at(2) }), type: 't1' });
  });

  it('lists final batches not wholly announced, and moves each announcement by compare-and-set', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1', 'r2', 'r3']);
    const b1 = (await seal(s))!;
    await seedRecords(s, 'm1', ['r4']);
    const b2 = (await seal(s))!;
    expect(await s.webhooks.unannouncedFinalBatches(10)).toEqual([]);
    const fence = await lead(s);
    for (const batch of [b1, b2]) {
      expect(await s.batches.transition(batch.id, 'sealed', 'final', { final_at: at(200) }, fence)).toBe(
        true,
      );
    }
    const pending = await s.webhooks.unannouncedFinalBatches(10);
    expect(pending.map((p) => [p.batch.id, p.nextLeaf])).toEqual([
      [b1.id, 0],
      [b2.id, 0],
    ]);
    expect(pending[0]!.batch).toMatchObject({ status: 'final', leaf_count: 3, final_at: at(200) });
    expect(await s.webhooks.unannouncedFinalBatches(1)).toHaveLength(1);

    expect(await s.webhooks.advanceAnnouncement(b1.id, 1, 2)).toBe(false);
    expect(await s.webhooks.advanceAnnouncement(b1.id, 0, 2)).toBe(true);
    expect(await s.webhooks.advanceAnnouncement(b1.id, 0, 2)).toBe(false);
    expect((await s.webhooks.unannouncedFinalBatches(10)).map((p) => [p.batch.id, p.nextLeaf])).toEqual([
      [b1.id, 2],
      [b2.id, 0],
    ]);
    expect(await s.webhooks.advanceAnnouncement(b1.id, 2, 3)).toBe(true);
    expect(await s.webhooks.advanceAnnouncement(b2.id, 0, 1)).toBe(true);
    expect(await s.webhooks.unannouncedFinalBatches(10)).toEqual([]);
  });

  it('reads a batch’s events in leaf order with their records’ merchant and external id', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1', 'r2']);
    await seedRecords(s, 'm2', ['r3']);
    const batch = (await seal(s))!;
    const events = await s.webhooks.batchEvents(batch.id, 0, 10);
    expect(events).toEqual([
      { leaf_index: 0, record_id: 'r1', seq: 0, type: 'issued', merchant_id: 'm1', external_id: 'ext-r1' },
      { leaf_index: 1, record_id: 'r2', seq: 0, type: 'issued', merchant_id: 'm1', external_id: 'ext-r2' },
      { leaf_index: 2, record_id: 'r3', seq: 0, type: 'issued', merchant_id: 'm2', external_id: 'ext-r3' },
    ]);
    expect((await s.webhooks.batchEvents(batch.id, 1, 1)).map((e) => e.record_id)).toEqual(['r2']);
    expect(await s.webhooks.batchEvents(batch.id, 3, 10)).toEqual([]);
    expect(await s.webhooks.batchEvents(batch.id + 1, 0, 10)).toEqual([]);
  });

  it('rolls an enqueue back with the transaction it was part of', async () => {
    const s = storage();
    await s.webhooks.insertEndpoint(endpointRow('e1'));
    await expect(
      s.transaction(async (tx) => {
        await tx.webhooks.enqueue(messageRow('msg1'), [deliveryRow('d1', 'msg1', 'e1')]);
        throw new Error('the change it reports failed');
      }),
    ).rejects.toThrow('the change it reports failed');
    expect(await s.webhooks.message('msg1')).toBeUndefined();
    expect(await s.webhooks.claimDue('w', at(100), at(200), 10)).toEqual([]);
  });
}
