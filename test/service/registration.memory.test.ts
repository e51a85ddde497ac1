/**
 * Registration (src/service/registration.ts) on the memory store: validation, all or nothing,
 * idempotent replays, conflicts, and two registrations of the same externalIds racing. The HTTP and
 * SQL side of the same rules is test/service/records.test.ts.
 */
import { sealBatch } from '../../src/service/sealing.ts';
import { describe, expect, it, vi } from 'vitest';
import { ISSUED, keccak256Hex, secretCommitment, utf8, ZERO32 } from '../../src/core/index.ts';
import { leafOfJson } from '../../src/service/leaves.ts';
import { registerRecords } from '../../src/service/registration.ts';
import { saltOf } from '../../src/service/secrets.ts';
import { outcome } from '../helpers/outcome.ts';
import { memoryService, moveBatch, verifiedMerchant } from '../helpers/memory-context.ts';
import { recordBody } from '../helpers/records.ts';
import { StaleReadStorage } from '../helpers/stale-reads.ts';

describe('registration on the memory store', () => {
  it('stores each record with its issuance event (seq 0, chained to zero), unbatched', async () => {
    const { ctx, storage, clock } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    const out = await registerRecords(ctx, merchant, [
      recordBody('a-1', { secret: 'KEY-1', metadata: { region: 'EU' } }),
      recordBody('a-2', { kind: 'card' }),
    ]);
    expect(out.created).toBe(2);
    expect(out.records.map((r) => r.externalId)).toEqual(['a-1', 'a-2']);
    for (const r of out.records) {
      expect(r.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(r).toMatchObject({ status: 'pending', verifyUrl: `http://proofmark.test/v/${r.id}` });
    }
    const [first] = out.records;
    const row = (await storage.records.get(first!.id))!;
    expect(row).toMatchObject({
      merchant_id: merchant.id,
      external_id: 'a-1',
      kind: 'licence',
      metadata: '{"region":"EU"}',
      head_seq: 0,
      state: 'active',
      sold: 0,
      activated: 0,
      created_at: clock.now().toISOString(),
    });
    // Issue 13: the salt is derived under the server key, never stored.
    expect(row.secret_salt).toBeNull();
    expect(row.secret_commitment).toBe(secretCommitment('KEY-1', saltOf(ctx.keys, row)));
    const [issued] = await storage.events.ofRecord(first!.id);
    expect(issued).toMatchObject({ seq: 0, type: ISSUED, prev_leaf: ZERO32, batch_id: null });
    expect(issued!.leaf).toBe(leafOfJson(first!.id, 0, ZERO32, issued!.content));
    expect(JSON.parse(issued!.content)).toMatchObject({
      type: ISSUED,
      merchantId: merchant.id,
      secretCommitment: row.secret_commitment,
      at: clock.now().toISOString(),
    });
    expect(issued!.content).not.toContain('KEY-1');
    expect(await storage.events.unbatched(10)).toMatchObject({ count: 2 });
  });

  it('an externalId twice in one request is 400 duplicate_external_id and writes nothing', async () => {
    const { ctx, storage } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    expect(
      await outcome(registerRecords(ctx, merchant, [recordBody('x'), recordBody('y'), recordBody('x')])),
    ).toBe('400 duplicate_external_id');
    expect(await storage.records.byExternalIds(merchant.id, ['x', 'y'])).toEqual([]);
    expect(await storage.events.unbatched(10)).toEqual({ count: 0, oldestAt: null });
  });

  it('a replay answers the same ids, creating nothing; a partly new request keeps the old ids', async () => {
    const { ctx, storage } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    const first = await registerRecords(ctx, merchant, [
      recordBody('r-1', { secret: 'S1' }),
      recordBody('r-2'),
    ]);
    const replay = await registerRecords(ctx, merchant, [
      recordBody('r-1', { secret: 'S1' }),
      recordBody('r-2'),
    ]);
    expect(replay).toEqual({ created: 0, records: first.records });
    const partly = await registerRecords(ctx, merchant, [
      recordBody('r-3'),
      recordBody('r-1', { secret: 'S1' }),
    ]);
    expect(partly.created).toBe(1);
    expect(partly.records[1]).toEqual(first.records[0]);
    expect(await storage.events.unbatched(10)).toMatchObject({ count: 3 });
  });

  it("a replay answers each record's anchoring status: pending, then anchored, then final", async () => {
    const { ctx, storage } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    const body = [recordBody('s-1')];
    await registerRecords(ctx, merchant, body);
    const batch = (await sealBatch(ctx, 10))!;
    expect((await registerRecords(ctx, merchant, body)).records[0]!.status).toBe('pending');
    await moveBatch(storage, batch.id, 'submitted');
    expect((await registerRecords(ctx, merchant, body)).records[0]!.status).toBe('pending');
    await moveBatch(storage, batch.id, 'anchored');
    expect((await registerRecords(ctx, merchant, body)).records[0]!.status).toBe('anchored');
    await moveBatch(storage, batch.id, 'final');
    expect((await registerRecords(ctx, merchant, body)).records[0]!.status).toBe('final');
  });

  it.each([
    ['another serial', recordBody('c-1', { secret: 'S', serial: 'OTHER' })],
    ['other metadata', recordBody('c-1', { secret: 'S', metadata: { edition: 2 } })],
    ['another secret', recordBody('c-1', { secret: 'NOT-S' })],
    ['no secret where there was one', recordBody('c-1')],
  ])(
    'the same externalId with %s is 409 external_id_conflict; the whole request writes nothing',
    async (_what, changed) => {
      const { ctx, storage } = memoryService();
      const { merchant } = await verifiedMerchant(ctx);
      const [original] = (await registerRecords(ctx, merchant, [recordBody('c-1', { secret: 'S' })])).records;
      expect(await outcome(registerRecords(ctx, merchant, [recordBody('c-new'), changed]))).toBe(
        '409 external_id_conflict',
      );
      expect(await storage.records.byExternalIds(merchant.id, ['c-new'])).toEqual([]);
      expect((await storage.records.byExternalIds(merchant.id, ['c-1']))[0]!.id).toBe(original!.id);
      expect(await storage.events.unbatched(10)).toMatchObject({ count: 1 });
    },
  );

  it('a secret added where the first registration had none is a conflict', async () => {
    const { ctx } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    await registerRecords(ctx, merchant, [recordBody('n-1')]);
    expect(await outcome(registerRecords(ctx, merchant, [recordBody('n-1', { secret: 'LATE' })]))).toBe(
      '409 external_id_conflict',
    );
  });

  it("externalIds are per merchant: another merchant's same externalId is a record of its own", async () => {
    const { ctx } = memoryService();
    const a = await verifiedMerchant(ctx, 'A');
    const b = await verifiedMerchant(ctx, 'B');
    const [ra] = (await registerRecords(ctx, a.merchant, [recordBody('shared')])).records;
    const [rb] = (await registerRecords(ctx, b.merchant, [recordBody('shared', { serial: 'B' })])).records;
    expect(rb!.id).not.toBe(ra!.id);
  });

  it('two registrations of the same externalIds at once: one creates them, the other is a replay', async () => {
    const { ctx, storage } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    const body = [recordBody('p-1'), recordBody('p-2')];
    const [one, two] = await Promise.all([
      registerRecords(ctx, merchant, body),
      registerRecords(ctx, merchant, body),
    ]);
    expect([one.created, two.created].sort()).toEqual([0, 2]);
    expect(two.records).toEqual(one.records);
    expect(await storage.events.unbatched(10)).toMatchObject({ count: 2 });
  });

  it('the loser of an interleaved race fails on the unique key, retries, and answers as a replay', async () => {
    const { ctx, storage } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    const racing = new StaleReadStorage(storage);
    const body = [recordBody('q-1'), recordBody('q-2', { secret: 'PIN' })];
    // The loser read before the winner committed: neither externalId existed yet.
    racing.answerNext('records.byExternalIds', []);
    const winner = await registerRecords(ctx, merchant, body);
    const attempts = vi.spyOn(racing, 'transaction');
    const loser = await registerRecords({ ...ctx, storage: racing }, merchant, body);
    expect(racing.pending()).toBe(0);
    // Lost on the unique key; found the winner's rows with a secret to compare (outside the
    // transaction, so the tries it spends stay spent: issue 13); answered as a replay.
    expect(attempts).toHaveBeenCalledTimes(3);
    expect(loser).toEqual({ created: 0, records: winner.records });
    expect(await storage.events.unbatched(10)).toMatchObject({ count: 2 });
  });

  it('a registration that keeps losing races gives up after ten attempts with the DuplicateKeyError', async () => {
    const { ctx, storage } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    await registerRecords(ctx, merchant, [recordBody('z-1')]);
    const racing = new StaleReadStorage(storage);
    for (let i = 0; i < 10; i++) racing.answerNext('records.byExternalIds', []);
    await expect(
      registerRecords({ ...ctx, storage: racing }, merchant, [recordBody('z-1')]),
    ).rejects.toMatchObject({ name: 'DuplicateKeyError' });
    expect(racing.pending()).toBe(0);
  });

  it('the fingerprint replays are checked against is pinned: a change would turn them into conflicts', async () => {
    // It covers whether there is a secret, not the secret (that is checked against the commitment).
    const { ctx, storage } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    await registerRecords(ctx, merchant, [recordBody('f-1', { secret: 'X' })]);
    const [row] = await storage.records.byExternalIds(merchant.id, ['f-1']);
    const expected = keccak256Hex(
      utf8(
        '{"hasSecret":true,"kind":"licence","metadata":{},"productName":"Windows 11 Pro","serial":"SN-f-1","sku":"WIN11-PRO"}',
      ),
    );
    expect(row!.fingerprint).toBe(expected);
  });
});
