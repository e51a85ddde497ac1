/**
 * The API client against the real app (SQLite, embedded dev chain, through inject): one lifecycle
 * driven only through its typed methods, and every operation /openapi.json lists is among the
 * requests it made, so a route added to the API without a client method fails here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/client/client.ts';
import { ApiError } from '../../src/client/errors.ts';
import type { Transport } from '../../src/client/transport.ts';
import { injectTransport, TEST_EVIDENCE } from '../helpers/client.ts';
import { ADMIN_TOKEN, startHarness, type Harness } from '../helpers/harness.ts';
import { recordBody } from '../helpers/records.ts';
import { waitFor } from '../helpers/wait.ts';

describe('the typed API client on the app (sqlite)', () => {
  let h: Harness;
  /** "METHOD /path?query" of every request the client made. */
  const sent: string[] = [];
  let api: ApiClient;

  beforeAll(async () => {
    // Webhook endpoints on loopback (nothing is delivered: the harness does not start the worker).
    h = await startHarness({ env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
    const inject = injectTransport(h.app);
    const recording: Transport = (request) => {
      sent.push(`${request.method} ${request.path}`);
      return inject(request);
    };
    api = new ApiClient('app.inject', { transport: recording });
  });
  afterAll(async () => h?.close());

  it('drives a merchant, records, a batch and the verdicts through typed methods', async () => {
    expect(await api.health()).toMatchObject({ status: 'ok', anchoringHalted: null });
    const chain = await api.chain();
    expect(chain.nextBatchId).toBe(1);

    const admin = api.withToken(ADMIN_TOKEN);
    const created = await admin.createMerchant({ name: 'Client Shop', contactEmail: 'ops@client.example' });
    expect(created).toMatchObject({ name: 'Client Shop', status: 'pending' });
    expect((await admin.verifyMerchant(created.id, TEST_EVIDENCE)).status).toBe('verified');
    expect(await api.merchant(created.id)).toMatchObject({
      status: 'verified',
      evidence: [{ sha256: 'ab'.repeat(32) }],
    });
    expect(await api.merchantCredit(created.id)).toMatchObject({ itemsIssued: 0, revokedShare: null });

    const shop = api.withToken(created.apiKey);
    const records = [recordBody('client-1', { secret: 'PIN-4711' }), recordBody('client-2')];
    const registered = await shop.registerRecords(records);
    expect(registered.created).toBe(true);
    const replay = await shop.registerRecords(records);
    expect(replay).toEqual({ created: false, records: registered.records });
    const id = registered.records[0]!.id;
    expect(await shop.addEvent(id, { type: 'sold', data: { channel: 'web' } })).toMatchObject({
      recordId: id,
      seq: 1,
      type: 'sold',
      status: 'pending',
    });
    expect((await api.record(id)).events.map((e) => e.type)).toEqual(['issued', 'sold']);
    expect((await api.verdict(id)).verdict).toBe('pending');
    expect(await api.verdict('never-issued')).toMatchObject({ verdict: 'not_found' });
    expect(await api.checkSecret(id, 'PIN-4711')).toEqual({ match: true });
    expect(await api.checkSecret(id, 'PIN-0000')).toEqual({ match: false });
    const png = await api.qrCode(id, 'png');
    expect(Buffer.from(png.subarray(1, 4)).toString('latin1')).toBe('PNG');
    expect(new TextDecoder().decode(await api.qrCode(id, 'svg'))).toMatch(/<svg/);

    const [batch] = (await admin.sealNow()).batches;
    expect(batch).toMatchObject({ id: 1, leafCount: 3, status: 'sealed' });
    await waitFor('the batch to be final', async () => (await api.batch(1)).status === 'final');
    const page = await api.batches({ after: 0, limit: 10 });
    expect(page).toMatchObject({ batches: [{ id: 1, status: 'final' }], next: null });
    expect((await api.batchLeaves(1)).length).toBe(3 * 32);

    const { bundles } = await api.proofs(id);
    expect(bundles.map((b) => b.anchor.status)).toEqual(['final', 'final']);
    expect(await api.verifyBundle(bundles[1])).toMatchObject({
      valid: true,
      freshness: { status: 'current', asOfBatch: 1, latestSeq: 1, ended: false },
    });
    expect((await api.verifyBundle(bundles[0])).freshness).toMatchObject({
      status: 'superseded',
      latestSeq: 1,
    });
    expect((await api.verdict(id)).verdict).toBe('genuine');
    const state = await api.stateProof(id);
    expect(state).toMatchObject({
      format: 'proofmark.state.v1',
      recordId: id,
      batchId: 1,
      value: { seq: 1, leaf: bundles[1]!.leaf, ended: false },
      anchor: { txHash: (await api.batch(1)).txHash },
    });
    expect(await api.stateProof(id, 1)).toEqual(state);
    expect((await api.proofsV2(id)).bundles).toMatchObject([
      {
        format: 'proofmark.bundle.v2',
        state: { batchId: 1, stateRoot: state.stateRoot, proof: state.proof },
      },
      { format: 'proofmark.bundle.v2', seq: 1 },
    ]);
    expect((await api.verdict(id)).freshness).toEqual({
      status: 'superseded',
      asOfBatch: 1,
      latestSeq: 1,
      ended: false,
    });

    expect((await admin.strikeMerchant(created.id, 'late refund')).strikes).toHaveLength(1);
    expect((await admin.merchantStrikes(created.id)).strikes).toMatchObject([
      { number: 1, reason: 'late refund' },
    ]);
    expect(await admin.eraseEvent(id, 1, 'ops ticket 1')).toMatchObject({
      recordId: id,
      seq: 1,
      type: 'sold',
    });
    const rotated = await admin.rotateMerchantKey(created.id);
    expect(rotated.apiKey).not.toBe(created.apiKey);
    const refused = await shop.registerRecords([recordBody('client-3')]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 401, code: 'unauthorized' });
    // One key, one sale: a key already held is refused, record by record, and the operator sees it.
    const duplicate = await api
      .withToken(rotated.apiKey)
      .registerRecords([recordBody('client-4', { secret: 'pin 4711' })])
      .catch((e: unknown) => e);
    expect(duplicate).toMatchObject({
      status: 409,
      code: 'duplicate_secret',
      refusedRecords: [{ externalId: 'client-4', code: 'duplicate_secret' }],
    });
    expect((await admin.duplicates({ merchant: created.id, limit: 10 })).refusals).toMatchObject([
      { merchantId: created.id, type: 'secret', externalId: 'client-4' },
    ]);
    await expect(api.merchant('m_none')).rejects.toMatchObject({ status: 404, code: 'merchant_not_found' });
  });

  it("drives the merchant's and the operator's webhook endpoints through typed methods", async () => {
    const admin = api.withToken(ADMIN_TOKEN);
    const created = await admin.createMerchant({ name: 'Hooked Shop' });
    await admin.verifyMerchant(created.id, TEST_EVIDENCE);
    const shop = api.withToken(created.apiKey);
    const types = await api.webhookEventTypes();
    expect(types.eventTypes.map((t) => t.type)).toContain('item.final');

    for (const [client, owner] of [
      [shop, 'merchant'],
      [admin, 'operator'],
    ] as const) {
      const hooks = client.webhooks(owner);
      const endpoint = await hooks.create({
        url: 'http://127.0.0.1:9/hook',
        eventTypes: ['merchant.strike'],
      });
      expect(endpoint.secret).toMatch(/^whsec_/);
      expect((await hooks.list()).endpoints.map((e) => e.id)).toEqual([endpoint.id]);
      expect(await hooks.get(endpoint.id)).toMatchObject({
        id: endpoint.id,
        eventTypes: ['merchant.strike'],
      });
      const rotated = await hooks.rotateSecret(endpoint.id);
      expect(rotated.secret).not.toBe(endpoint.secret);
    }
    await admin.strikeMerchant(created.id, 'a warning for the hooks');
    for (const [client, owner] of [
      [shop, 'merchant'],
      [admin, 'operator'],
    ] as const) {
      const hooks = client.webhooks(owner);
      const [endpoint] = (await hooks.list()).endpoints;
      const { deliveries, next } = await hooks.deliveries(endpoint!.id, { limit: 10 });
      expect(next).toBeNull();
      expect(deliveries).toMatchObject([{ eventType: 'merchant.strike', status: 'pending', attempts: 0 }]);
      const replayed = await hooks.replay(endpoint!.id, deliveries[0]!.messageId);
      expect(replayed).toMatchObject({ messageId: deliveries[0]!.messageId, status: 'pending' });
      expect(await hooks.delete(endpoint!.id)).toMatchObject({ id: endpoint!.id });
      expect((await hooks.list()).endpoints).toEqual([]);
    }
  });

  it('drives sealed delivery and a dispute through typed methods', async () => {
    const admin = api.withToken(ADMIN_TOKEN);
    const created = await admin.createMerchant({ name: 'After-sale Shop' });
    await admin.verifyMerchant(created.id, TEST_EVIDENCE);
    const shop = api.withToken(created.apiKey);
    const [record] = (await shop.registerRecords([recordBody('sealed', { secret: 'KEY-1' })])).records;
    const sale = await shop.sealedSale(record!.id, 'KEY-1');
    const token = sale.revealUrl.split('/r/')[1]!;
    expect(await api.revealStatus(token)).toMatchObject({ revealedAt: null, available: true });
    expect(await api.reveal(token)).toMatchObject({ secret: 'KEY-1', first: true });
    const opened = await api.openDispute(record!.id, {
      reason: 'will_not_activate',
      description: 'does not activate',
      secret: 'KEY-1',
    });
    expect(await shop.dispute(opened.id)).toMatchObject({ status: 'open' });
    await shop.answerDispute(opened.id, { response: 'contest', answer: 'it works' });
    expect((await admin.adminDisputes('answered')).disputes.map((d) => d.id)).toEqual([opened.id]);
    expect(await admin.adminDispute(opened.id)).toMatchObject({ response: 'contest' });
    await expect(shop.disputeFile(opened.id, 0)).rejects.toMatchObject({
      status: 404,
      code: 'file_not_found',
    });
    await expect(admin.adminDisputeFile(opened.id, 0)).rejects.toMatchObject({ status: 404 });
    expect(await admin.decideDispute(opened.id, { decision: 'merchant' })).toMatchObject({
      status: 'decided',
      decision: 'merchant',
    });
  });

  it('has made a request to every operation /openapi.json lists', async () => {
    const spec = await api.getJson<{ paths: Record<string, Record<string, unknown>> }>('/openapi.json');
    const missing: string[] = [];
    for (const [path, operations] of Object.entries(spec.paths)) {
      const pattern = new RegExp(`^${path.replace(/\./g, '\\.').replace(/\{[^}]+\}/g, '[^/?]+')}(\\?.*)?$`);
      for (const method of Object.keys(operations)) {
        const op = `${method.toUpperCase()} `;
        if (!sent.some((s) => s.startsWith(op) && pattern.test(s.slice(op.length)))) missing.push(op + path);
      }
    }
    expect(Object.keys(spec.paths).length).toBeGreaterThan(10);
    expect(missing).toEqual([]);
  });
});
