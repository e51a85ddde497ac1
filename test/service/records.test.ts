/**
 * The merchant API: registering records (all or nothing, idempotent on externalId, conflicts write
 * nothing), record ids, secrets kept only as commitments, and lifecycle events chained leaf to leaf
 * with the impossible steps refused. On SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventLeaf, secretCommitment, ZERO32, type Hex } from '../../src/core/index.ts';
import { derivedSalt } from '../../src/service/secrets.ts';
import { BACKENDS, postgresSkipReason } from '../helpers/databases.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { everyRowAsText, rowCounts } from '../helpers/db-inspect.ts';
import { recordBody, type RecordBody } from '../helpers/records.ts';

describe.each(BACKENDS)('merchant API: records and events (%s)', (backend) => {
  let h: Harness;
  let skip: string | null = null;
  let shop: { id: string; apiKey: string };
  let rival: { id: string; apiKey: string };
  beforeAll(async () => {
    if (backend === 'postgres') skip = await postgresSkipReason();
    if (skip) return;
    h = await startHarness({ backend, startBatcher: false });
    shop = await h.verifiedMerchant('Record Shop');
    rival = await h.verifiedMerchant('Rival Shop');
  });
  afterAll(async () => h?.close());

  const db = () => h.runtime.storage.db;
  const post = (records: unknown[], token = shop.apiKey) =>
    h.call('POST', '/v1/records', { token, body: { records } });
  const event = (recordId: string, type: string, token = shop.apiKey, data?: Record<string, unknown>) =>
    h.call('POST', `/v1/records/${recordId}/events`, { token, body: data ? { type, data } : { type } });

  it('registers 1,000 records in one request with 128-bit URL-safe ids', async (t) => {
    if (skip) return t.skip(skip);
    const records = Array.from({ length: 1000 }, (_, i) => recordBody(`bulk-${i}`, { kind: 'card' }));
    const res = await post(records);
    expect(res.statusCode).toBe(201);
    const out = res.json().records as Array<{
      id: string;
      externalId: string;
      status: string;
      verifyUrl: string;
    }>;
    expect(out).toHaveLength(1000);
    expect(out.map((r) => r.externalId)).toEqual(records.map((r) => r.externalId));
    for (const r of out) {
      expect(r.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(Buffer.from(r.id, 'base64url')).toHaveLength(16);
      expect(r.status).toBe('pending');
      expect(r.verifyUrl).toBe(`http://proofmark.test/v/${r.id}`);
    }
    expect(new Set(out.map((r) => r.id)).size).toBe(1000);
    // Random, not sequential: the ids share no long common prefix.
    const prefixes = new Set(out.map((r) => r.id.slice(0, 4)));
    expect(prefixes.size).toBeGreaterThan(990);

    const rows = await db().selectFrom('records').select('id').where('merchant_id', '=', shop.id).execute();
    expect(rows.length).toBe(1000);
    const issued = await db()
      .selectFrom('events')
      .select(['record_id', 'seq', 'prev_leaf', 'batch_id'])
      .where(
        'record_id',
        'in',
        out.slice(0, 10).map((r) => r.id),
      )
      .execute();
    expect(issued).toHaveLength(10);
    for (const e of issued) expect(e).toMatchObject({ seq: 0, prev_leaf: ZERO32, batch_id: null });
  });

  it('a replay returns the same ids with 200; a partly new request 201 with the old ids kept', async (t) => {
    if (skip) return t.skip(skip);
    const a = recordBody('idem-a', { metadata: { region: 'CN', edition: 'pro', seats: 5 } });
    const b = recordBody('idem-b', { secret: 'AAAA-BBBB-CCCC-DDDD' });
    const first = await post([a, b]);
    expect(first.statusCode).toBe(201);
    const ids = first.json().records.map((r: { id: string }) => r.id);

    const before = await rowCounts(db());
    // Same content with metadata keys in another order and the secret with surrounding spaces.
    const replay = await post([
      { ...a, metadata: { seats: 5, edition: 'pro', region: 'CN' } },
      { ...b, secret: '  AAAA-BBBB-CCCC-DDDD ' },
    ]);
    expect(replay.statusCode).toBe(200);
    expect(replay.json().records.map((r: { id: string }) => r.id)).toEqual(ids);
    expect(await rowCounts(db())).toEqual(before);

    const c = recordBody('idem-c');
    const partial = await post([c, b, a]);
    expect(partial.statusCode).toBe(201);
    const partialIds = partial.json().records.map((r: { id: string }) => r.id);
    expect(partialIds[1]).toBe(ids[1]);
    expect(partialIds[2]).toBe(ids[0]);
    expect(ids).not.toContain(partialIds[0]);
    const after = await rowCounts(db());
    expect(after.records).toBe(before.records! + 1);
    expect(after.events).toBe(before.events! + 1);

    // Another merchant may use the same externalId: its own record.
    const other = await post([a], rival.apiKey);
    expect(other.statusCode).toBe(201);
    expect(other.json().records[0].id).not.toBe(ids[0]);
  });

  it('the same externalId with other content, or another secret, is 409 and writes nothing', async (t) => {
    if (skip) return t.skip(skip);
    const original = recordBody('conflict-1', { secret: 'PIN-1234', metadata: { region: 'EU' } });
    expect((await post([original])).statusCode).toBe(201);

    const variants: Array<[string, RecordBody]> = [
      ['serial', { ...original, serial: 'SN-other' }],
      ['kind', { ...original, kind: 'account' }],
      ['sku', { ...original, sku: 'WIN11-HOME' }],
      ['productName', { ...original, productName: 'Windows 11 Home' }],
      ['metadata', { ...original, metadata: { region: 'US' } }],
      ['secret', { ...original, secret: 'PIN-9999' }],
      ['no secret', recordBody('conflict-1', { metadata: { region: 'EU' } })],
    ];
    for (const [what, variant] of variants) {
      const before = await rowCounts(db());
      // The conflicting record sits between two new ones: neither of those may be written.
      const res = await post([
        recordBody(`conflict-new-${what}-1`),
        variant,
        recordBody(`conflict-new-${what}-2`),
      ]);
      expect(res.statusCode, what).toBe(409);
      expect(res.json()).toMatchObject({ statusCode: 409, error: 'Conflict', code: 'external_id_conflict' });
      // Nothing of the registration is written. A changed secret is a wrong secret tried against the
      // record, though, and spends one of its tries (issue 13: a replay must not be a free oracle).
      const tried = what === 'secret' ? 1 : 0;
      expect(await rowCounts(db()), what).toEqual({
        ...before,
        secret_attempts: before.secret_attempts! + tried,
      });
    }
    const absent = await db()
      .selectFrom('records')
      .select('id')
      .where('external_id', 'like', 'conflict-new-%')
      .execute();
    expect(absent).toEqual([]);
  });

  it('one invalid record in a request writes nothing', async (t) => {
    if (skip) return t.skip(skip);
    const before = await rowCounts(db());
    const good = Array.from({ length: 20 }, (_, i) => recordBody(`aon-${i}`));
    for (const bad of [
      { ...recordBody('aon-bad'), kind: 'gift' },
      { ...recordBody('aon-bad'), serial: '' },
      { ...recordBody('aon-bad'), sku: 'x'.repeat(129) },
      { ...recordBody('aon-bad'), colour: 'red' },
      { ...recordBody('aon-bad'), metadata: { nested: { no: true } } },
    ]) {
      const res = await post([...good.slice(0, 10), bad, ...good.slice(10)]);
      expect(res.statusCode, JSON.stringify(bad)).toBe(400);
      expect(res.json().code).toBe('invalid_request');
    }
    const dup = await post([...good, recordBody('aon-3')]);
    expect(dup.statusCode).toBe(400);
    expect(dup.json().code).toBe('duplicate_external_id');
    expect(await rowCounts(db())).toEqual(before);
  });

  it('keeps secrets only as salted commitments: the plaintext is in no column of any table', async (t) => {
    if (skip) return t.skip(skip);
    const secrets = ['LICENCE-KEY-Q7W9-ZX31-PLM0', 'card-pin-80461357', '密码-账号-secret-77'];
    const res = await post(
      secrets.map((secret, i) => recordBody(`secret-${i}`, { secret, kind: 'account' })),
    );
    expect(res.statusCode).toBe(201);
    expect(res.body).not.toContain(secrets[0]);
    const ids = res.json().records.map((r: { id: string }) => r.id);

    const everything = await everyRowAsText(db());
    for (const secret of secrets) {
      expect(everything).not.toContain(secret);
      expect(everything).not.toContain(Buffer.from(secret).toString('hex'));
    }

    for (const [i, id] of ids.entries()) {
      const row = await db().selectFrom('records').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      // Issue 13: the salt is derived from the server key and the record id, and not stored at all.
      expect(row.secret_salt).toBeNull();
      const salt = derivedSalt(h.runtime.services.ctx.keys, id);
      expect(salt).toMatch(/^0x[0-9a-f]{64}$/);
      expect(everything).not.toContain(salt.slice(2));
      expect(row.secret_commitment).toBe(secretCommitment(secrets[i]!, salt));
      // The issuance content carries the commitment, never the salt or the secret.
      const issued = await db()
        .selectFrom('events')
        .select('content')
        .where('record_id', '=', id)
        .where('seq', '=', 0)
        .executeTakeFirstOrThrow();
      const content = JSON.parse(issued.content);
      expect(content.secretCommitment).toBe(row.secret_commitment);
      expect(issued.content).not.toContain(salt.slice(2));
      const pub = await h.call('GET', `/v1/records/${id}`);
      expect(pub.json().hasSecret).toBe(true);
      expect(pub.body).not.toContain(secrets[i]);
      expect(pub.body).not.toContain(salt.slice(2));
      const proofs = await h.call('GET', `/v1/records/${id}/proofs`);
      expect(proofs.body).not.toContain(secrets[i]);
      expect(proofs.body).not.toContain(salt.slice(2));
    }
    // Two records with the same secret (the second a re-issue of the first, revoked: one key, one
    // sale) get different salts, so their commitments differ.
    const twin1 = (await post([recordBody('twin-1', { secret: 'same-secret' })])).json().records[0].id;
    expect((await event(twin1, 'revoked')).statusCode).toBe(201);
    const twin2 = (await post([recordBody('twin-2', { secret: 'same-secret' })])).json().records[0].id;
    const twinRows = await db()
      .selectFrom('records')
      .select('secret_commitment')
      .where('id', 'in', [twin1, twin2])
      .execute();
    expect(twinRows[0]!.secret_commitment).not.toBe(twinRows[1]!.secret_commitment);
  });

  it('chains every event to the one before and refuses impossible steps', async (t) => {
    if (skip) return t.skip(skip);
    const reg = await post([recordBody('life-1'), recordBody('life-2'), recordBody('life-3')]);
    const [id1, id2, id3] = reg.json().records.map((r: { id: string }) => r.id) as string[];

    const sold = await event(id1!, 'sold', shop.apiKey, { channel: 'b-1', price: 12.5, gift: false });
    expect(sold.statusCode).toBe(201);
    expect(sold.json()).toMatchObject({ recordId: id1, seq: 1, type: 'sold', status: 'pending' });
    expect((await event(id1!, 'activated')).json().seq).toBe(2);
    for (const [type, code] of [
      ['activated', 'lifecycle_violation'],
      ['sold', 'lifecycle_violation'],
    ]) {
      const before = await rowCounts(db());
      const res = await event(id1!, type!);
      expect(res.statusCode, type).toBe(409);
      expect(res.json().code).toBe(code);
      expect(await rowCounts(db())).toEqual(before);
    }
    expect((await event(id1!, 'transferred', shop.apiKey, { to: 'b-2' })).json().seq).toBe(3);
    expect((await event(id1!, 'refunded')).json().seq).toBe(4);
    for (const type of ['sold', 'activated', 'transferred', 'revoked', 'refunded']) {
      const res = await event(id1!, type);
      expect(res.statusCode, `${type} after refunded`).toBe(409);
      expect(res.json().code).toBe('lifecycle_violation');
    }

    // Refund needs a sale.
    const refund = await event(id2!, 'refunded');
    expect(refund.statusCode).toBe(409);
    expect(refund.json().message).toMatch(/never sold/);
    // Revoked ends the record.
    expect((await event(id2!, 'revoked')).statusCode).toBe(201);
    for (const type of ['sold', 'activated', 'transferred', 'revoked', 'refunded']) {
      expect((await event(id2!, type)).statusCode, `${type} after revoked`).toBe(409);
    }

    // Only the issuer; unknown records are 404; unknown types 400.
    const before = await rowCounts(db());
    const foreign = await event(id3!, 'sold', rival.apiKey);
    expect(foreign.statusCode).toBe(403);
    expect(foreign.json()).toMatchObject({ statusCode: 403, error: 'Forbidden', code: 'not_record_owner' });
    expect((await event('AAAAAAAAAAAAAAAAAAAAAA', 'sold')).json()).toMatchObject({
      statusCode: 404,
      code: 'record_not_found',
    });
    expect((await event(id3!, 'issued')).statusCode).toBe(400);
    expect((await event(id3!, 'stolen')).statusCode).toBe(400);
    expect(await rowCounts(db())).toEqual(before);

    // Every leaf recomputes from its content, and seq n chains to the leaf of seq n-1.
    for (const [id, length] of [
      [id1!, 5],
      [id2!, 2],
      [id3!, 1],
    ] as const) {
      const events = await db()
        .selectFrom('events')
        .selectAll()
        .where('record_id', '=', id)
        .orderBy('seq')
        .execute();
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length }, (_, i) => i));
      let prev: Hex = ZERO32;
      for (const e of events) {
        expect(e.prev_leaf).toBe(prev);
        const content = JSON.parse(e.content);
        expect(eventLeaf({ recordId: id, seq: e.seq, prevLeaf: prev, content })).toBe(e.leaf);
        prev = e.leaf as Hex;
      }
      const record = await db()
        .selectFrom('records')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      expect(record.head_seq).toBe(length - 1);
    }
    const soldRow = await db()
      .selectFrom('events')
      .select('content')
      .where('record_id', '=', id1!)
      .where('seq', '=', 1)
      .executeTakeFirstOrThrow();
    expect(JSON.parse(soldRow.content)).toMatchObject({
      type: 'sold',
      data: { channel: 'b-1', price: 12.5, gift: false },
    });

    const pub = (await h.call('GET', `/v1/records/${id1}`)).json();
    expect(pub.state).toBe('refunded');
    expect(pub.events.map((e: { type: string }) => e.type)).toEqual([
      'issued',
      'sold',
      'activated',
      'transferred',
      'refunded',
    ]);
  });

  it('events racing for the same record keep one unbroken chain', async (t) => {
    if (skip) return t.skip(skip);
    const reg = await post([recordBody('race-1')]);
    const id = reg.json().records[0].id as string;
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => event(id, 'transferred', shop.apiKey, { to: `owner-${i}` })),
    );
    for (const r of results) {
      expect([201, 409]).toContain(r.statusCode);
      if (r.statusCode === 409) expect(r.json().code).toBe('concurrent_event');
    }
    const ok = results.filter((r) => r.statusCode === 201);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    const events = await db()
      .selectFrom('events')
      .selectAll()
      .where('record_id', '=', id)
      .orderBy('seq')
      .execute();
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: ok.length + 1 }, (_, i) => i));
    for (let i = 1; i < events.length; i++) expect(events[i]!.prev_leaf).toBe(events[i - 1]!.leaf);
    expect(new Set(ok.map((r) => r.json().seq)).size).toBe(ok.length);
  });

  it('a request of more than 1,000 records is refused whole', async (t) => {
    if (skip) return t.skip(skip);
    const before = await rowCounts(db());
    const res = await post(Array.from({ length: 1001 }, (_, i) => recordBody(`over-${i}`)));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/1000/) });
    expect((await post([])).statusCode).toBe(400);
    expect(await rowCounts(db())).toEqual(before);
  });

  it('GET /v1/records/:id shows the public fields, the merchant and the lifecycle', async (t) => {
    if (skip) return t.skip(skip);
    const reg = await post([
      recordBody('public-1', { kind: 'account', metadata: { platform: 'steam', level: 42 }, secret: 'pw' }),
    ]);
    const id = reg.json().records[0].id;
    await event(id, 'sold', shop.apiKey, { channel: 'kamen' });
    const res = await h.call('GET', `/v1/records/${id}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      id,
      kind: 'account',
      sku: 'WIN11-PRO',
      productName: 'Windows 11 Pro',
      serial: 'SN-public-1',
      metadata: { platform: 'steam', level: 42 },
      state: 'active',
      hasSecret: true,
      verifyUrl: `http://proofmark.test/v/${id}`,
      merchant: { id: shop.id, name: 'Record Shop', status: 'verified' },
      events: [
        {
          seq: 0,
          type: 'issued',
          anchor: { status: 'pending', batchId: null, txHash: null, blockNumber: null },
        },
        { seq: 1, type: 'sold', data: { channel: 'kamen' }, anchor: { status: 'pending' } },
      ],
    });
    expect((await h.call('GET', '/v1/records/AAAAAAAAAAAAAAAAAAAAAA')).json()).toMatchObject({
      statusCode: 404,
      code: 'record_not_found',
    });
  });
});
