/**
 * One key, one sale, over real sockets on SQLite and PostgreSQL, with two instances on one database:
 * a key held by a live record is refused whoever sends it and however it is spelt, nothing written;
 * a refunded key may be re-issued by its own merchant only, linking the earlier record; racing
 * instances leave exactly one record per key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, createTestDatabase, postgresSkipReason, type TestDatabase } from '../helpers/databases.ts';
import { ADMIN_TOKEN, startHarness, type Harness } from '../helpers/harness.ts';
import { runCli } from '../cli/helpers.ts';
import { recordBody, type RecordBody } from '../helpers/records.ts';

interface Answer {
  status: number;
  body: Record<string, unknown> & {
    code?: string;
    message?: string;
    refused?: Array<{ externalId: string; code: string }>;
    records?: Array<{ id: string; externalId: string }>;
  };
}

describe.each(BACKENDS)('one key, one sale (%s)', (backend) => {
  let skip: string | null = null;
  let database: TestDatabase | undefined;
  let a: Harness;
  let b: Harness;
  const urls: string[] = [];
  let shop: { id: string; apiKey: string };
  let rival: { id: string; apiKey: string };

  beforeAll(async () => {
    if (backend === 'postgres') skip = await postgresSkipReason();
    if (skip) return;
    database = await createTestDatabase(backend);
    // One after the other: the first creates the development server key the second then reads.
    a = await startHarness({ database, startBatcher: false });
    b = await startHarness({ database, startBatcher: false });
    for (const h of [a, b]) urls.push(await h.app.listen({ port: 0, host: '127.0.0.1' }));
    shop = await a.verifiedMerchant('Key Shop');
    rival = await a.verifiedMerchant('Rival Key Shop');
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled([a?.close(), b?.close()]);
    await database?.drop();
  });

  async function request(method: string, path: string, token?: string, body?: unknown, via = 0) {
    const res = await fetch(urls[via]! + path, {
      method,
      headers: {
        ...(token && { authorization: `Bearer ${token}` }),
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Answer['body'] };
  }
  const register = (records: RecordBody[], token = shop.apiKey, via = 0) =>
    request('POST', '/v1/records', token, { records }, via);
  const event = (id: string, type: string, token = shop.apiKey) =>
    request('POST', `/v1/records/${id}/events`, token, { type });
  const verdict = (id: string) => request('GET', `/v1/verify/${id}`);
  const countRecords = async (merchantId: string) =>
    (
      await a.runtime.storage.db
        .selectFrom('records')
        .select('id')
        .where('merchant_id', '=', merchantId)
        .execute()
    ).length;

  it('the same key from two merchants, twice from one, respelt, or twice in one request: one record', async (t) => {
    if (skip) return t.skip(skip);
    const key = 'VK7JG-NPHTM-C97JM-9MPGT-3V66T';
    const first = await register([recordBody('k-1', { secret: key })]);
    expect(first.status).toBe(201);
    const firstId = first.body.records![0]!.id;
    const before = [await countRecords(shop.id), await countRecords(rival.id)];

    for (const [token, secret, via] of [
      [rival.apiKey, key, 1],
      [shop.apiKey, key, 0],
      [shop.apiKey, 'vk7jg npHtm c97jm 9mpgt 3v66t', 1],
      [rival.apiKey, 'VK7JG_NPHTM.C97JM 9MPGT-3V66T', 0],
    ] as const) {
      const res = await register([recordBody('k-2', { secret, serial: 'SN-other' })], token, via);
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('duplicate_secret');
      expect(res.body.message).toContain('already registered on this platform');
      // The other merchant is never named, nor the record holding the key.
      expect(JSON.stringify(res.body)).not.toContain(shop.id);
      expect(JSON.stringify(res.body)).not.toContain('Key Shop');
      expect(JSON.stringify(res.body)).not.toContain(firstId);
      expect(res.body.refused).toEqual([{ externalId: 'k-2', code: 'duplicate_secret' }]);
    }
    // Twice in one request, with a record that is fine: the whole request is refused.
    const inOne = await register([
      recordBody('k-3', { secret: 'AAAA-BBBB' }),
      recordBody('k-4'),
      recordBody('k-5', { secret: 'aaaabbbb' }),
    ]);
    expect(inOne.status).toBe(409);
    expect(inOne.body.refused).toEqual([{ externalId: 'k-5', code: 'duplicate_secret' }]);
    expect([await countRecords(shop.id), await countRecords(rival.id)]).toEqual(before);
    // The request without the refused record goes through; the replay of the first is still a replay.
    expect((await register([recordBody('k-3', { secret: 'AAAA-BBBB' }), recordBody('k-4')])).status).toBe(
      201,
    );
    const replay = await register([recordBody('k-1', { secret: key })]);
    expect(replay.status).toBe(200);
    expect(replay.body.records![0]!.id).toBe(firstId);
  });

  it('a serial is held once per merchant and SKU', async (t) => {
    if (skip) return t.skip(skip);
    expect((await register([recordBody('s-1', { serial: 'SER-1' })])).status).toBe(201);
    const again = await register([recordBody('s-2', { serial: 'SER-1' })]);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('duplicate_serial');
    expect(again.body.refused).toEqual([{ externalId: 's-2', code: 'duplicate_serial' }]);
    // Another SKU, or another merchant, may use the same serial.
    expect((await register([recordBody('s-3', { serial: 'SER-1', sku: 'OFFICE' })])).status).toBe(201);
    expect((await register([recordBody('s-1', { serial: 'SER-1' })], rival.apiKey)).status).toBe(201);
  });

  it('a refunded key re-issued by its merchant is a new record linking the old; no one else may take it', async (t) => {
    if (skip) return t.skip(skip);
    const key = 'REFUND-ME-0001';
    const first = await register([recordBody('r-1', { secret: key, serial: 'R-1' })]);
    const oldId = first.body.records![0]!.id;
    expect((await verdict(oldId)).body).toMatchObject({ uniqueness: 'registered-once', reissueOf: null });
    expect((await event(oldId, 'sold')).status).toBe(201);
    expect((await event(oldId, 'refunded')).status).toBe(201);

    const stolen = await register([recordBody('r-x', { secret: key.toLowerCase() })], rival.apiKey);
    expect(stolen.status).toBe(409);
    expect(stolen.body.code).toBe('duplicate_secret');

    const reissue = await register([recordBody('r-2', { secret: key, serial: 'R-1' })], shop.apiKey, 1);
    expect(reissue.status).toBe(201);
    const newId = reissue.body.records![0]!.id;
    expect((await verdict(newId)).body).toMatchObject({ uniqueness: 'registered-once', reissueOf: oldId });
    const page = await fetch(`${urls[0]}/v/${newId}`).then((r) => r.text());
    expect(page).toContain('data-uniqueness="registered-once"');
    expect(page).toContain(`<a href="/v/${oldId}">`);
    // After a matching key check the page says the key is registered for this item only.
    const checked = await fetch(`${urls[1]}/v/${newId}/secret`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `secret=${encodeURIComponent('refund-me 0001')}`,
    }).then((r) => r.text());
    expect(checked).not.toContain('此授权码 / 卡密在本平台只登记给了这一件商品');
    const matched = await fetch(`${urls[1]}/v/${newId}/secret`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `secret=${encodeURIComponent(key)}`,
    }).then((r) => r.text());
    expect(matched).toContain('This key or PIN is registered on this platform for this item only.');
    // The re-issue holds the key now: a second re-issue is refused.
    expect((await register([recordBody('r-3', { secret: key, serial: 'R-9' })])).status).toBe(409);
  });

  it('two instances racing on one key leave exactly one record per key', async (t) => {
    if (skip) return t.skip(skip);
    const keys = Array.from({ length: 12 }, (_, i) => `RACE-${i}-XXXX`);
    const answers = await Promise.all(
      keys.flatMap((key, i) => [
        register([recordBody(`race-a-${i}`, { secret: key })], shop.apiKey, 0),
        register([recordBody(`race-b-${i}`, { secret: key.toLowerCase() })], rival.apiKey, 1),
      ]),
    );
    for (let i = 0; i < keys.length; i++) {
      const pair = [answers[2 * i]!, answers[2 * i + 1]!].map((x) => x.status).sort();
      expect(pair, keys[i]).toEqual([201, 409]);
    }
    const rows = await a.runtime.storage.db
      .selectFrom('records')
      .select('external_id')
      .where('external_id', 'like', 'race-%')
      .execute();
    expect(rows).toHaveLength(keys.length);
  });

  it('a record registered before the index says it is not covered', async (t) => {
    if (skip) return t.skip(skip);
    const res = await register([recordBody('old-1', { secret: 'OLD-KEY' })]);
    const id = res.body.records![0]!.id;
    // As if registered before migration 009: no keys.
    await a.runtime.storage.db.deleteFrom('unique_keys').where('record_id', '=', id).execute();
    expect((await verdict(id)).body).toMatchObject({ uniqueness: 'not-covered', reissueOf: null });
    const noSecret = await register([recordBody('plain-1')]);
    expect((await verdict(noSecret.body.records![0]!.id)).body.uniqueness).toBe('no-secret');
  });

  it('the operator sees every refused duplicate (route and CLI), never the secret or its key', async (t) => {
    if (skip) return t.skip(skip);
    const res = await request('GET', `/v1/admin/duplicates?merchant=${rival.id}`, ADMIN_TOKEN);
    expect(res.status).toBe(200);
    const refusals = res.body.refusals as Array<Record<string, unknown>>;
    const firstKey = await a.runtime.storage.db
      .selectFrom('records')
      .select('id')
      .where('external_id', '=', 'k-1')
      .executeTakeFirstOrThrow();
    expect(refusals).toContainEqual({
      at: expect.any(String),
      merchantId: rival.id,
      type: 'secret',
      externalId: 'k-2',
      existingRecordId: firstKey.id,
      existingMerchantId: shop.id,
    });
    expect(refusals.every((r) => r.merchantId === rival.id)).toBe(true);
    // The shop's own: twice its own key, and the duplicate within one request (held by no record yet).
    const own = (await request('GET', `/v1/admin/duplicates?merchant=${shop.id}`, ADMIN_TOKEN)).body
      .refusals as Array<Record<string, unknown>>;
    expect(own).toContainEqual(expect.objectContaining({ externalId: 'k-5', existingRecordId: null }));
    expect(own).toContainEqual(expect.objectContaining({ externalId: 's-2', type: 'serial' }));
    const keys = await a.runtime.storage.db.selectFrom('unique_keys').select('key').execute();
    const text = JSON.stringify(res.body) + JSON.stringify(own);
    for (const { key } of keys) expect(text).not.toContain(key);
    expect(text.toLowerCase()).not.toContain('vk7jg');
    // Not for merchants.
    expect((await request('GET', '/v1/admin/duplicates', shop.apiKey)).status).toBe(401);
    if (backend !== 'sqlite') return;
    const cli = await runCli(['admin', 'duplicates', '--merchant', rival.id, '--api', urls[1]!], {
      ADMIN_TOKEN,
    });
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.stdout)).toEqual({ refusals });
  });
});
