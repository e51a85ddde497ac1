/**
 * What consumers see: verdicts (genuine, pending, revoked, merchant_suspended, not_found), scan
 * counting, the rate-limited secret check, and the proof bundles of a record, anchored ones checked
 * with verifyBundle. On SQLite and PostgreSQL, anchored on a Hardhat network.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyBundle, ZERO32, type ProofBundleV1 } from '../../src/core/index.ts';
import { SUSPICIOUS_SCANS } from '../../src/service/verdicts.ts';
import { BACKENDS, postgresSkipReason } from '../helpers/databases.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { rowCounts } from '../helpers/db-inspect.ts';
import { recordBody } from '../helpers/records.ts';

describe.each(BACKENDS)('verdicts, scans, secrets and proofs (%s)', (backend) => {
  let h: Harness;
  let skip: string | null = null;
  let shop: { id: string; apiKey: string };
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    if (backend === 'postgres') skip = await postgresSkipReason();
    if (skip) return;
    // The per-record budget of wrong secrets has tests of its own (test/abuse/secret-guessing.test.ts);
    // here it must not end the per-address one's test early.
    h = await startHarness({ backend, env: { SECRET_GUESSES_PER_WINDOW: '1000' } });
    shop = await h.verifiedMerchant('Verdict Shop');
    const names = ['genuine', 'revoke', 'refund', 'scans', 'secret', 'nosecret', 'proofs', 'ratelimit'];
    const res = await h.call('POST', '/v1/records', {
      token: shop.apiKey,
      body: {
        records: names.map((n) =>
          // One key, one sale: the two records with a secret hold different keys.
          recordBody(
            `v-${n}`,
            n === 'secret'
              ? { secret: 'ＰＩＮ-café-4711' }
              : n === 'ratelimit'
                ? { secret: 'ＰＩＮ-café-4712' }
                : {},
          ),
        ),
      },
    });
    if (res.statusCode !== 201) throw new Error(res.body);
    res.json().records.forEach((r: { id: string }, i: number) => (ids[names[i]!] = r.id));
    const sold = await h.call('POST', `/v1/records/${ids.proofs}/events`, {
      token: shop.apiKey,
      body: { type: 'sold', data: { channel: 'x' } },
    });
    if (sold.statusCode !== 201) throw new Error(sold.body);
    // A few more leaves so proofs have several levels.
    await h.call('POST', '/v1/records', {
      token: shop.apiKey,
      body: { records: Array.from({ length: 9 }, (_, i) => recordBody(`v-filler-${i}`)) },
    });
    await h.sealAndWaitFinal();
  });
  afterAll(async () => h?.close());

  const verdict = (id: string) => h.call('GET', `/v1/verify/${id}`);
  const event = (id: string, type: string, token = shop.apiKey) =>
    h.call('POST', `/v1/records/${id}/events`, { token, body: { type } });

  it('an unknown code is not_found with 404; a malformed one 400', async (t) => {
    if (skip) return t.skip(skip);
    const res = await verdict('AAAAAAAAAAAAAAAAAAAAAA');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ verdict: 'not_found', recordId: 'AAAAAAAAAAAAAAAAAAAAAA' });
    expect(res.json().record).toBeUndefined();
    const bad = await verdict('not%20an%20id');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('invalid_request');
  });

  it('pending until the issuance is final, then genuine', async (t) => {
    if (skip) return t.skip(skip);
    const fresh = await h.call('POST', '/v1/records', {
      token: shop.apiKey,
      body: { records: [recordBody('v-fresh')] },
    });
    const freshId = fresh.json().records[0].id;
    const pending = await verdict(freshId);
    expect(pending.statusCode).toBe(200);
    expect(pending.json()).toMatchObject({
      verdict: 'pending',
      issuance: { status: 'pending', batchId: null, txHash: null, blockNumber: null },
    });

    const res = await verdict(ids.genuine!);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      verdict: 'genuine',
      recordId: ids.genuine,
      record: {
        kind: 'licence',
        sku: 'WIN11-PRO',
        serial: 'SN-v-genuine',
        state: 'active',
        hasSecret: false,
      },
      merchant: { id: shop.id, name: 'Verdict Shop', status: 'verified' },
      issuance: { status: 'final', batchId: expect.any(Number) },
    });
    expect(body.issuance.txHash).toMatch(/^0x[0-9a-f]{64}$/);
    const batch = await h.runtime.storage.db
      .selectFrom('batches')
      .selectAll()
      .where('id', '=', body.issuance.batchId)
      .executeTakeFirstOrThrow();
    expect(batch.status).toBe('final');
    expect(await h.runtime.services.chain.rootOf(batch.id)).toBe(batch.root);
    expect(body.issuance.blockNumber).toBe(batch.block_number);
  });

  it('revoked and refunded records are revoked at once, before the event is anchored', async (t) => {
    if (skip) return t.skip(skip);
    expect((await verdict(ids.revoke!)).json().verdict).toBe('genuine');
    expect((await event(ids.revoke!, 'revoked')).statusCode).toBe(201);
    const revoked = (await verdict(ids.revoke!)).json();
    expect(revoked).toMatchObject({ verdict: 'revoked', record: { state: 'revoked' } });
    expect(revoked.reason).toMatch(/revoked/);

    expect((await event(ids.refund!, 'sold')).statusCode).toBe(201);
    expect((await verdict(ids.refund!)).json().verdict).toBe('genuine');
    expect((await event(ids.refund!, 'refunded')).statusCode).toBe(201);
    const refunded = (await verdict(ids.refund!)).json();
    expect(refunded).toMatchObject({ verdict: 'revoked', record: { state: 'refunded' } });
    expect(refunded.reason).toMatch(/refunded/);
  });

  it("a suspended merchant's genuine records become merchant_suspended", async (t) => {
    if (skip) return t.skip(skip);
    const other = await h.verifiedMerchant('Soon Suspended');
    const reg = await h.call('POST', '/v1/records', {
      token: other.apiKey,
      body: { records: [recordBody('s-1')] },
    });
    const id = reg.json().records[0].id;
    await h.sealAndWaitFinal();
    expect((await verdict(id)).json().verdict).toBe('genuine');
    await h.admin('POST', `/v1/merchants/${other.id}/strikes`, { reason: 'first' });
    expect((await verdict(id)).json().verdict).toBe('genuine');
    await h.admin('POST', `/v1/merchants/${other.id}/strikes`, { reason: 'second' });
    expect((await verdict(id)).json()).toMatchObject({
      verdict: 'merchant_suspended',
      merchant: { id: other.id, status: 'suspended' },
      issuance: { status: 'final' },
    });
    // The other merchant's records are untouched.
    expect((await verdict(ids.genuine!)).json().verdict).toBe('genuine');
  });

  it('counts distinct networks, not requests, and keeps the first scan time; reading the record does not count', async (t) => {
    if (skip) return t.skip(skip);
    const id = ids.scans!;
    const from = (remoteAddress: string) =>
      h.app.inject({ method: 'GET', url: `/v1/verify/${id}`, remoteAddress }).then((r) => r.json().scans);
    const first = await from('127.30.1.1');
    expect(first).toMatchObject({ count: 1, suspicious: false });
    expect(Date.parse(first.firstAt)).not.toBeNaN();
    // The same address, or another in its /24: the same scanner, nothing added.
    expect(await from('127.30.1.1')).toEqual({ count: 1, firstAt: first.firstAt, suspicious: false });
    expect(await from('127.30.1.2')).toEqual({ count: 1, firstAt: first.firstAt, suspicious: false });
    await new Promise((r) => setTimeout(r, 5));
    expect(await from('127.30.2.1')).toEqual({ count: 2, firstAt: first.firstAt, suspicious: false });
    await h.call('GET', `/v1/records/${id}`);
    await h.call('GET', `/v1/records/${id}/proofs`);
    expect((await from('127.30.3.1')).count).toBe(3);
    // Counts are written behind (src/service/scans.ts); after a flush the table holds them all.
    await h.runtime.services.ctx.scans.flush();
    const row = await h.runtime.storage.db
      .selectFrom('scans')
      .selectAll()
      .where('record_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ count: 3, first_at: first.firstAt });
    expect(row.last_at >= row.first_at).toBe(true);
    for (let n = 4; n <= SUSPICIOUS_SCANS; n++) await from(`127.30.${n}.1`);
    expect(await from('127.30.1.1')).toMatchObject({ count: SUSPICIOUS_SCANS, suspicious: false });
    expect(await from('127.31.0.1')).toMatchObject({ count: SUSPICIOUS_SCANS + 1, suspicious: true });
    // Concurrent scans from new networks are all counted; concurrent repeats are not.
    await Promise.all(Array.from({ length: 10 }, (_, i) => from(`127.32.${i}.1`)));
    await Promise.all(Array.from({ length: 10 }, () => from('127.32.0.1')));
    expect((await from('127.32.0.9')).count).toBe(SUSPICIOUS_SCANS + 11);
  });

  it('checks a secret against the commitment, normalised, without storing anything', async (t) => {
    if (skip) return t.skip(skip);
    const check = (id: string, secret: string) =>
      h.app.inject({
        method: 'POST',
        url: `/v1/verify/${id}/secret`,
        payload: { secret },
        remoteAddress: '10.20.0.1',
      });
    // Scans are written behind: what earlier tests left would otherwise land between the two counts.
    await h.runtime.services.ctx.scans.flush();
    const before = await rowCounts(h.runtime.storage.db);
    expect((await check(ids.secret!, 'ＰＩＮ-café-4711')).json()).toEqual({ match: true });
    expect((await check(ids.secret!, '  ＰＩＮ-cafe\u0301-4711\n')).json()).toEqual({ match: true });
    expect((await check(ids.secret!, 'PIN-café-4711')).json()).toEqual({ match: false });
    expect((await check(ids.secret!, 'ＰＩＮ-café-4712')).json()).toEqual({ match: false });
    expect((await check(ids.nosecret!, 'anything')).json()).toEqual({ match: false });
    const missing = await check('AAAAAAAAAAAAAAAAAAAAAA', 'x');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('record_not_found');
    expect((await check(ids.secret!, '')).statusCode).toBe(400);
    // Nothing but the count of wrong secrets, which issue 13 keeps in the database: one row.
    expect(await rowCounts(h.runtime.storage.db)).toEqual({
      ...before,
      secret_attempts: before.secret_attempts! + 1,
    });
  });

  it('rate-limits the secret check: the 11th call in a minute is 429 rate_limited', async (t) => {
    if (skip) return t.skip(skip);
    const check = (remoteAddress: string, secret = 'wrong guess') =>
      h.app.inject({
        method: 'POST',
        url: `/v1/verify/${ids.ratelimit}/secret`,
        payload: { secret },
        remoteAddress,
      });
    for (let i = 1; i <= 10; i++) {
      const res = await check('10.30.0.1');
      expect(res.statusCode, `call ${i}`).toBe(200);
      expect(res.json()).toEqual({ match: false });
    }
    const limited = await check('10.30.0.1', 'ＰＩＮ-café-4712');
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: expect.any(String),
      code: 'rate_limited',
    });
    // Even the right secret gets no answer while limited; another client is unaffected.
    expect(limited.body).not.toContain('match');
    // A forged X-Forwarded-For does not buy a fresh budget: TRUST_PROXY is off by default.
    const forged = await h.app.inject({
      method: 'POST',
      url: `/v1/verify/${ids.ratelimit}/secret`,
      payload: { secret: 'another guess' },
      remoteAddress: '10.30.0.1',
      headers: { 'x-forwarded-for': '203.0.113.9' },
    });
    expect(forged.statusCode).toBe(429);
    expect((await check('10.30.0.2', 'ＰＩＮ-café-4712')).json()).toEqual({ match: true });
    // Verdicts are not limited by the secret check's budget.
    expect(
      (await h.app.inject({ method: 'GET', url: `/v1/verify/${ids.ratelimit}`, remoteAddress: '10.30.0.1' }))
        .statusCode,
    ).toBe(200);
  });

  it('serves one bundle per event in seq order: anchored ones verify, pending ones carry no proof', async (t) => {
    if (skip) return t.skip(skip);
    const id = ids.proofs!;
    expect((await event(id, 'activated')).statusCode).toBe(201);
    const res = await h.call('GET', `/v1/records/${id}/proofs`);
    expect(res.statusCode).toBe(200);
    const { recordId, bundles } = res.json() as { recordId: string; bundles: ProofBundleV1[] };
    expect(recordId).toBe(id);
    expect(bundles.map((b) => b.seq)).toEqual([0, 1, 2]);
    expect(bundles[0]!.prevLeaf).toBe(ZERO32);
    expect(bundles[1]!.prevLeaf).toBe(bundles[0]!.leaf);
    expect(bundles[2]!.prevLeaf).toBe(bundles[1]!.leaf);
    expect(bundles.map((b) => b.content.type)).toEqual(['issued', 'sold', 'activated']);

    const { chain } = h.runtime.services;
    for (const b of bundles.slice(0, 2)) {
      expect(b).toMatchObject({
        format: 'proofmark.bundle.v1',
        recordId: id,
        anchor: { chainId: chain.chainId, contract: chain.contract, status: 'final' },
      });
      const checked = verifyBundle(b);
      expect(checked).toEqual({ valid: true, bundle: b });
      expect(b.proof!.length).toBeGreaterThan(0);
      expect(await chain.rootOf(b.batchId!)).toBe(b.root);
    }
    expect(bundles[2]).toMatchObject({
      proof: null,
      root: null,
      batchId: null,
      anchor: { status: 'pending', txHash: null, blockNumber: null },
    });
    expect(verifyBundle(bundles[2])).toMatchObject({ valid: false, failure: 'not_anchored' });

    await h.sealAndWaitFinal();
    const later = (await h.call('GET', `/v1/records/${id}/proofs`)).json().bundles as ProofBundleV1[];
    expect(later[2]!.anchor.status).toBe('final');
    expect(later[2]!.batchId).toBeGreaterThan(later[0]!.batchId!);
    expect(verifyBundle(later[2]).valid).toBe(true);
    // Bundles already handed out stay as they were.
    expect(later.slice(0, 2)).toEqual(bundles.slice(0, 2));

    const missing = await h.call('GET', '/v1/records/AAAAAAAAAAAAAAAAAAAAAA/proofs');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('record_not_found');
  });
});
