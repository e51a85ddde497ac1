/**
 * Webhooks over real HTTP: a whole instance (runtime, batcher, delivery worker, HTTP app) sends to
 * a real receiver on a loopback port. Signatures verify with the `standardwebhooks` package; bodies
 * match the published schemas; item.final lists exactly the merchant's records of the batch; strikes
 * reach the merchant and the operator; a receiver that is down for a while, or answers errors, still
 * gets every message at least once, duplicates carrying the same webhook-id; the delivery log and
 * replay work through the API; a deleted endpoint gets nothing more.
 */
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/client/client.ts';
import type { WebhookEndpointWithSecret } from '../../src/client/types.ts';
import { webhookBodySchema, type WebhookEventType } from '../../src/service/webhooks/events.ts';
import { BACKENDS, postgresSkipReason } from '../helpers/databases.ts';
import { ADMIN_TOKEN, startHarness, type Harness } from '../helpers/harness.ts';
import { recordBody } from '../helpers/records.ts';
import { waitFor } from '../helpers/wait.ts';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.ts';

/** Retries in fractions of a second, so a test walks the whole schedule. */
const SCHEDULE = ['200ms', '300ms', '400ms', '500ms', '500ms', '500ms', '500ms', '500ms'];

describe.each(BACKENDS)('webhooks over HTTP (%s)', (backend) => {
  let skip: string | null = null;
  let h: Harness;
  let admin: ApiClient;

  beforeAll(async () => {
    if (backend === 'postgres') skip = await postgresSkipReason();
    if (skip) return;
    h = await startHarness({
      backend,
      env: {
        WEBHOOK_ALLOW_PRIVATE: 'true',
        WEBHOOK_POLL_MS: '50',
        WEBHOOK_TIMEOUT_MS: '1500',
        WEBHOOK_RETRY_SCHEDULE: SCHEDULE.join(','),
      },
    });
    h.runtime.webhookWorker.start();
    admin = h.client(ADMIN_TOKEN);
  }, 60_000);
  afterAll(async () => {
    await h?.runtime.webhookWorker.stop();
    await h?.close();
  });

  /** A verified merchant with one endpoint at a fresh receiver. */
  async function merchantWithEndpoint(mode: Parameters<typeof startReceiver>[0] = 'ok') {
    const merchant = await h.verifiedMerchant(`Shop ${Math.random()}`);
    const receiver = await startReceiver(mode);
    const api = h.client(merchant.apiKey);
    const endpoint = await api.webhooks().create({ url: receiver.url, description: 'orders system' });
    return { ...merchant, api, receiver, endpoint };
  }

  /** Registers records for the merchant and waits until they are final; returns their ids. */
  async function finalRecords(apiKey: string, externalIds: string[]): Promise<string[]> {
    const registered = await h.client(apiKey).registerRecords(externalIds.map((id) => recordBody(id)));
    await h.sealAndWaitFinal();
    return registered.records.map((r) => r.id);
  }

  /** Every request verifies with the endpoint's secret and its body fits its type's schema. */
  function expectSignedAndWellFormed(receiver: Receiver, endpoint: WebhookEndpointWithSecret): void {
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    for (const request of receiver.received) {
      const body = receiver.verify(request, endpoint.secret) as { type: WebhookEventType };
      expect(Value.Check(webhookBodySchema(body.type), body), request.body).toBe(true);
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers['webhook-id']).toMatch(/^msg_/);
    }
  }

  it('item.final: one signed message per batch and merchant listing exactly its final records', async (t) => {
    if (skip) return t.skip(skip);
    const shop = await merchantWithEndpoint();
    const other = await merchantWithEndpoint();
    const registered = await shop.api.registerRecords(['a-1', 'a-2', 'a-3'].map((id) => recordBody(id)));
    await other.api.registerRecords([recordBody('b-1')]);
    const sold = await shop.api.addEvent(registered.records[0]!.id, { type: 'sold' });
    await h.sealAndWaitFinal();
    const ids = registered.records.map((r) => r.id);

    await shop.receiver.until('item.final for the shop', (r) => r.messages().length > 0);
    await other.receiver.until('item.final for the other merchant', (r) => r.messages().length > 0);
    expectSignedAndWellFormed(shop.receiver, shop.endpoint);
    const [message] = shop.receiver.messages();
    expect(message!.type).toBe('item.final');
    const data = message!.data as {
      merchantId: string;
      batch: { id: number; root: string; txHash: string; finalAt: string };
      part: number;
      parts: number;
      records: Array<{ id: string; externalId: string; events: Array<{ seq: number; type: string }> }>;
    };
    expect(data.merchantId).toBe(shop.id);
    expect(data.part).toBe(1);
    expect(data.parts).toBe(1);
    expect(data.records.map((r) => r.id).sort()).toEqual([...ids].sort());
    const first = data.records.find((r) => r.id === ids[0])!;
    expect(first.externalId).toBe('a-1');
    expect(first.events).toEqual([
      { seq: 0, type: 'issued' },
      { seq: sold.seq, type: 'sold' },
    ]);
    const batch = await h.client().batch(data.batch.id);
    expect(batch).toMatchObject({ status: 'final', root: data.batch.root, txHash: data.batch.txHash });
    // The other merchant's message names only its own record.
    const theirs = other.receiver.messages()[0]!.data as typeof data;
    expect(theirs.records.map((r) => r.externalId)).toEqual(['b-1']);
    expect(theirs.batch.id).toBe(data.batch.id);
    // Once: the batch is announced, not again on later passes.
    await new Promise((r) => setTimeout(r, 500));
    expect(shop.receiver.received).toHaveLength(1);
    await Promise.all([shop.receiver.close(), other.receiver.close()]);
  });

  it('merchant.strike reaches the merchant and the operator, each signed with its own secret', async (t) => {
    if (skip) return t.skip(skip);
    const shop = await merchantWithEndpoint();
    const operatorReceiver = await startReceiver();
    const operator = await admin.webhooks('operator').create({
      url: operatorReceiver.url,
      eventTypes: ['merchant.strike'],
    });
    expect(operator.eventTypes).toEqual(['merchant.strike']);
    await admin.strikeMerchant(shop.id, 'sold a key twice');
    await shop.receiver.until('the strike at the merchant', (r) => r.messages().length === 1);
    await operatorReceiver.until('the strike at the operator', (r) => r.messages().length === 1);
    expectSignedAndWellFormed(shop.receiver, shop.endpoint);
    expectSignedAndWellFormed(operatorReceiver, operator);
    const atMerchant = shop.receiver.messages()[0]!;
    const atOperator = operatorReceiver.messages()[0]!;
    expect(atMerchant.type).toBe('merchant.strike');
    expect(atMerchant.data).toMatchObject({ merchantId: shop.id, number: 1, suspended: false });
    expect(atMerchant.data.reason).toBe('sold a key twice');
    // One message, two deliveries: the same webhook-id, each endpoint's own signature.
    expect(atOperator.id).toBe(atMerchant.id);
    expect(() => operatorReceiver.verify(atOperator.received, shop.endpoint.secret)).toThrow();
    await admin.webhooks('operator').delete(operator.id);
    await Promise.all([shop.receiver.close(), operatorReceiver.close()]);
  });

  it('a receiver down for a while still gets every message, at least once, with its webhook-id', async (t) => {
    if (skip) return t.skip(skip);
    const shop = await merchantWithEndpoint('down');
    await finalRecords(shop.apiKey, ['down-1']);
    await finalRecords(shop.apiKey, ['down-2']);
    await admin.strikeMerchant(shop.id, 'late deliveries');
    const log = () => shop.api.webhooks().deliveries(shop.endpoint.id);
    // Three messages enqueued, each failing while the receiver is down: refused, then 503.
    await waitFor('three messages to fail twice', async () => {
      const { deliveries } = await log();
      return deliveries.length === 3 && deliveries.every((d) => d.attempts >= 2);
    });
    await shop.receiver.setMode(503);
    await waitFor('a 503 in the log', async () =>
      (await log()).deliveries.some((d) => d.log.some((a) => a.statusCode === 503)),
    );
    await shop.receiver.setMode('ok');
    await waitFor('everything delivered', async () =>
      (await log()).deliveries.every((d) => d.status === 'delivered'),
    );
    const { deliveries } = await log();
    const delivered = new Set(
      shop.receiver.received.filter((r) => r.answered === 200).map((r) => r.headers['webhook-id']),
    );
    expect([...delivered].sort()).toEqual(deliveries.map((d) => d.messageId).sort());
    expectSignedAndWellFormed(shop.receiver, shop.endpoint);
    // Every 503 was a duplicate of a message delivered later under the same webhook-id.
    for (const failed of shop.receiver.received.filter((r) => r.answered === 503)) {
      expect(delivered.has(failed.headers['webhook-id'])).toBe(true);
    }
    // The log shows each attempt: the refusals (no status), the 503s, the 200, with their retries.
    for (const d of deliveries) {
      expect(d.attempts).toBe(d.log.length);
      expect(d.log.at(-1)).toMatchObject({ statusCode: 200, error: null, nextAttemptAt: null });
      for (const failed of d.log.slice(0, -1)) {
        expect(failed.statusCode === null || failed.statusCode === 503).toBe(true);
        expect(failed.error).toBeTruthy();
        expect(Date.parse(failed.nextAttemptAt!)).toBeGreaterThan(Date.parse(failed.at));
      }
      expect(d.deliveredAt).not.toBeNull();
    }
    await shop.receiver.close();
  });

  it('gives up after the last retry, then replays through the API with the same webhook-id', async (t) => {
    if (skip) return t.skip(skip);
    const shop = await merchantWithEndpoint(500);
    await admin.strikeMerchant(shop.id, 'first warning');
    const api = shop.api.webhooks();
    const failed = await waitFor('the delivery to be given up', async () => {
      const [d] = (await api.deliveries(shop.endpoint.id)).deliveries;
      return d?.status === 'failed' && d;
    });
    expect(failed.attempts).toBe(SCHEDULE.length + 1);
    expect(failed.nextAttemptAt).toBeNull();
    expect(failed.lastStatusCode).toBe(500);
    expect(failed.log.at(-1)!.nextAttemptAt).toBeNull();
    expect(shop.receiver.received).toHaveLength(SCHEDULE.length + 1);

    await shop.receiver.setMode('ok');
    const replayed = await api.replay(shop.endpoint.id, failed.messageId);
    expect(replayed).toMatchObject({ messageId: failed.messageId, status: 'pending' });
    await shop.receiver.until('the replay', (r) => r.received.some((x) => x.answered === 200));
    const ids = new Set(shop.receiver.received.map((r) => r.headers['webhook-id']));
    expect([...ids]).toEqual([failed.messageId]);
    expectSignedAndWellFormed(shop.receiver, shop.endpoint);
    const after = await waitFor('the log to show it delivered', async () => {
      const [d] = (await api.deliveries(shop.endpoint.id)).deliveries;
      return d?.status === 'delivered' && d;
    });
    expect(after.attempts).toBe(SCHEDULE.length + 2);

    // A delivered message replays too: the receiver gets it again, a duplicate by its webhook-id.
    await api.replay(shop.endpoint.id, failed.messageId);
    await shop.receiver.until(
      'the second replay',
      (r) => r.received.filter((x) => x.answered === 200).length === 2,
    );
    await expect(api.replay(shop.endpoint.id, 'msg_unknown')).rejects.toMatchObject({ status: 404 });
    await shop.receiver.close();
  });

  it('pages the delivery log, keeps owners apart, rotates secrets and stops at deletion', async (t) => {
    if (skip) return t.skip(skip);
    const shop = await merchantWithEndpoint();
    const rival = await h.verifiedMerchant('Rival');
    const api = shop.api.webhooks();
    for (let i = 0; i < 3; i++) await finalRecords(shop.apiKey, [`page-${i}`]);
    await shop.receiver.until('three item.final messages', (r) => r.messages().length === 3);

    const first = await api.deliveries(shop.endpoint.id, { limit: 2 });
    expect(first.deliveries).toHaveLength(2);
    const second = await api.deliveries(shop.endpoint.id, { limit: 2, before: first.next! });
    expect(second.deliveries).toHaveLength(1);
    expect(second.next).toBeNull();
    const ids = [...first.deliveries, ...second.deliveries].map((d) => d.messageId);
    expect(new Set(ids).size).toBe(3);

    // Another merchant, or the operator's routes, cannot see it.
    const theirs = h.client(rival.apiKey).webhooks();
    for (const call of [
      () => theirs.get(shop.endpoint.id),
      () => theirs.deliveries(shop.endpoint.id),
      () => theirs.replay(shop.endpoint.id, ids[0]!),
      () => theirs.delete(shop.endpoint.id),
      () => admin.webhooks('operator').get(shop.endpoint.id),
    ]) {
      await expect(call()).rejects.toMatchObject({ status: 404, code: 'webhook_endpoint_not_found' });
    }
    expect((await api.list()).endpoints.map((e) => e.id)).toEqual([shop.endpoint.id]);

    // After a rotation both secrets sign for a while, so a receiver holding either one verifies.
    const rotated = await api.rotateSecret(shop.endpoint.id);
    expect(rotated.secret).not.toBe(shop.endpoint.secret);
    expect(rotated.previousSecretValidUntil).not.toBeNull();
    await admin.strikeMerchant(shop.id, 'after the rotation');
    await shop.receiver.until('the strike', (r) => r.messages().some((m) => m.type === 'merchant.strike'));
    const strike = shop.receiver.messages().find((m) => m.type === 'merchant.strike')!.received;
    expect(String(strike.headers['webhook-signature']).split(' ')).toHaveLength(2);
    shop.receiver.verify(strike, rotated.secret);
    shop.receiver.verify(strike, shop.endpoint.secret);

    // Deleted: nothing more arrives, the log stays readable, the list forgets it.
    await api.delete(shop.endpoint.id);
    const before = shop.receiver.received.length;
    await finalRecords(shop.apiKey, ['after-delete']);
    await new Promise((r) => setTimeout(r, 500));
    expect(shop.receiver.received).toHaveLength(before);
    expect((await api.list()).endpoints).toEqual([]);
    expect((await api.deliveries(shop.endpoint.id)).deliveries.length).toBeGreaterThanOrEqual(4);
    await expect(api.get(shop.endpoint.id)).rejects.toMatchObject({ status: 404 });
    await shop.receiver.close();
  });

  it('refuses event types an owner does not receive, and publishes every type’s schema', async (t) => {
    if (skip) return t.skip(skip);
    const shop = await h.verifiedMerchant('Types');
    const api = h.client(shop.apiKey).webhooks();
    const all = await api.create({ url: 'http://127.0.0.1:9/none' });
    expect(all.eventTypes).toEqual([
      'item.final',
      'merchant.strike',
      'dispute.opened',
      'dispute.deadline_approaching',
      'dispute.decided',
    ]);
    const operator = await admin.webhooks('operator').create({ url: 'http://127.0.0.1:9/none' });
    expect(operator.eventTypes).not.toContain('item.final');
    await expect(
      admin.webhooks('operator').create({ url: 'http://127.0.0.1:9/none', eventTypes: ['item.final'] }),
    ).rejects.toMatchObject({ status: 400, code: 'invalid_event_type' });
    const { eventTypes } = await h.client().webhookEventTypes();
    expect(eventTypes.map((e) => e.type)).toEqual(all.eventTypes);
    expect(eventTypes.find((e) => e.type === 'merchant.strike')!.audience).toEqual(['merchant', 'operator']);
    expect(JSON.stringify(eventTypes[0]!.body)).toContain('"records"');
    await api.delete(all.id);
    await admin.webhooks('operator').delete(operator.id);
  });
});
