/**
 * The operator API: admitting merchants (keys stored only as hashes), verification with evidence,
 * strikes (warning, then suspension that disables keys and flips verdicts), key rotation, and the
 * public merchant profile. On SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/service/random.ts';
import { BACKENDS, postgresSkipReason } from '../helpers/databases.ts';
import { ADMIN_TOKEN, startHarness, type Harness } from '../helpers/harness.ts';
import { everyRowAsText, rowCounts } from '../helpers/db-inspect.ts';
import { recordBody } from '../helpers/records.ts';

const EVIDENCE = [
  { description: 'publisher reseller letter 2026', sha256: 'AB'.repeat(32) },
  { description: 'business licence scan', sha256: '0c'.repeat(32) },
];

describe.each(BACKENDS)('operator API: merchants (%s)', (backend) => {
  let h: Harness;
  let skip: string | null = null;
  beforeAll(async () => {
    if (backend === 'postgres') skip = await postgresSkipReason();
    if (!skip) h = await startHarness({ backend, startBatcher: false });
  });
  afterAll(async () => h?.close());

  const db = () => h.runtime.storage.db;

  async function register(apiKey: string, externalId: string) {
    return h.call('POST', '/v1/records', { token: apiKey, body: { records: [recordBody(externalId)] } });
  }

  it('admits a pending merchant and keeps its API key only as a hash', async (t) => {
    if (skip) return t.skip(skip);
    const res = await h.admin('POST', '/v1/merchants', {
      name: 'Key Shop 钥匙店',
      contactEmail: 'ops@keyshop.example',
    });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toEqual({
      id: expect.stringMatching(/^m_[A-Za-z0-9_-]{22}$/),
      name: 'Key Shop 钥匙店',
      status: 'pending',
      apiKey: expect.any(String),
    });
    expect(body.apiKey.length).toBeGreaterThanOrEqual(32);

    const keys = await db().selectFrom('api_keys').selectAll().where('merchant_id', '=', body.id).execute();
    expect(keys).toHaveLength(1);
    expect(keys[0]!.key_hash).toBe(sha256Hex(body.apiKey));
    expect(keys[0]!.revoked_at).toBeNull();
    // Not in api_keys, not in merchants, not anywhere.
    const merchants = await db().selectFrom('merchants').selectAll().execute();
    expect(JSON.stringify(keys)).not.toContain(body.apiKey);
    expect(JSON.stringify(merchants)).not.toContain(body.apiKey);
    expect(await everyRowAsText(db())).not.toContain(body.apiKey);

    const stored = await db()
      .selectFrom('merchants')
      .selectAll()
      .where('id', '=', body.id)
      .executeTakeFirstOrThrow();
    expect(stored).toMatchObject({
      status: 'pending',
      contact_email: 'ops@keyshop.example',
      verified_at: null,
    });
  });

  it('needs the admin token for every operator route', async (t) => {
    if (skip) return t.skip(skip);
    const { id, apiKey } = await h.verifiedMerchant('Operator Guard');
    const before = await rowCounts(db());
    const attempts: Array<[string, string, unknown]> = [
      ['POST', '/v1/merchants', { name: 'Sneaky' }],
      ['POST', `/v1/merchants/${id}/verify`, { evidence: EVIDENCE }],
      ['POST', `/v1/merchants/${id}/strikes`, { reason: 'x' }],
      ['POST', `/v1/merchants/${id}/keys`, undefined],
      ['POST', '/v1/admin/batches/seal', undefined],
    ];
    for (const [method, url, body] of attempts) {
      for (const token of [undefined, 'not-the-admin-token-at-all', apiKey, `${ADMIN_TOKEN}x`]) {
        const res = await h.call(method, url, { ...(token ? { token } : {}), body });
        expect(res.statusCode, `${method} ${url} with ${token}`).toBe(401);
        expect(res.json()).toMatchObject({ statusCode: 401, error: 'Unauthorized', code: 'unauthorized' });
      }
    }
    expect(await rowCounts(db())).toEqual(before);
  });

  it('a pending merchant cannot write; verification with evidence lets it', async (t) => {
    if (skip) return t.skip(skip);
    const created = (await h.admin('POST', '/v1/merchants', { name: 'Pending Ltd' })).json();
    const before = await rowCounts(db());
    const denied = await register(created.apiKey, 'pending-1');
    expect(denied.statusCode).toBe(403);
    expect(denied.json()).toMatchObject({ statusCode: 403, code: 'merchant_pending' });
    expect(await rowCounts(db())).toEqual(before);

    const profile0 = (await h.call('GET', `/v1/merchants/${created.id}`)).json();
    expect(profile0).toMatchObject({ status: 'pending', verifiedSince: null, strikes: [], evidence: [] });

    const verified = await h.admin('POST', `/v1/merchants/${created.id}/verify`, { evidence: EVIDENCE });
    expect(verified.statusCode).toBe(200);
    const profile = verified.json();
    expect(profile).toMatchObject({ id: created.id, name: 'Pending Ltd', status: 'verified', strikes: [] });
    expect(Date.parse(profile.verifiedSince)).not.toBeNaN();
    expect(profile.evidence.map((e: { sha256: string }) => e.sha256)).toEqual([
      'ab'.repeat(32),
      '0c'.repeat(32),
    ]);

    expect((await register(created.apiKey, 'pending-1')).statusCode).toBe(201);

    // More evidence later keeps the first verification date and appends.
    const again = await h.admin('POST', `/v1/merchants/${created.id}/verify`, {
      evidence: [{ description: 'renewed letter', sha256: 'ee'.repeat(32) }],
    });
    expect(again.json().verifiedSince).toBe(profile.verifiedSince);
    expect(again.json().evidence).toHaveLength(3);
  });

  it('rejects malformed evidence and unknown merchants', async (t) => {
    if (skip) return t.skip(skip);
    const created = (await h.admin('POST', '/v1/merchants', { name: 'Evidence Co' })).json();
    const before = await rowCounts(db());
    for (const evidence of [
      [],
      [{ description: 'x', sha256: 'zz'.repeat(32) }],
      [{ description: 'x', sha256: 'ab'.repeat(31) }],
      [{ description: '', sha256: 'ab'.repeat(32) }],
      [{ description: 'x', sha256: 'ab'.repeat(32), extra: true }],
    ]) {
      const res = await h.admin('POST', `/v1/merchants/${created.id}/verify`, { evidence });
      expect(res.statusCode, JSON.stringify(evidence)).toBe(400);
      expect(res.json().code).toBe('invalid_request');
    }
    expect(await rowCounts(db())).toEqual(before);
    expect((await h.call('GET', `/v1/merchants/${created.id}`)).json().status).toBe('pending');

    const missing = await h.admin('POST', '/v1/merchants/nobody-here/verify', { evidence: EVIDENCE });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('merchant_not_found');
    expect((await h.call('GET', '/v1/merchants/nobody-here')).json()).toMatchObject({
      statusCode: 404,
      code: 'merchant_not_found',
    });
    expect((await h.admin('POST', '/v1/merchants/nobody-here/strikes', { reason: 'r' })).statusCode).toBe(
      404,
    );
    expect((await h.admin('POST', '/v1/merchants/nobody-here/keys')).statusCode).toBe(404);
  });

  it('first strike warns, second suspends: keys stop working and verdicts flip', async (t) => {
    if (skip) return t.skip(skip);
    const { id, apiKey } = await h.verifiedMerchant('Strike Shop');
    const reg = await register(apiKey, 'strike-1');
    expect(reg.statusCode).toBe(201);
    const recordId = reg.json().records[0].id;
    expect((await h.call('GET', `/v1/verify/${recordId}`)).json().verdict).toBe('pending');

    const first = await h.admin('POST', `/v1/merchants/${id}/strikes`, { reason: 'sold a duplicated key' });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({
      status: 'verified',
      suspendedSince: null,
      strikes: [{ number: 1 }],
    });
    // The reason is the operator's: not in the public profile, only behind the admin token.
    expect(first.json().strikes[0]).not.toHaveProperty('reason');
    const reasons = await h.admin('GET', `/v1/merchants/${id}/strikes`);
    expect(reasons.json()).toEqual({
      merchantId: id,
      strikes: [{ number: 1, reason: 'sold a duplicated key', at: first.json().strikes[0].at }],
    });
    expect((await h.call('GET', `/v1/merchants/${id}/strikes`)).statusCode).toBe(401);
    // A warning only: the key still writes.
    expect((await register(apiKey, 'strike-2')).statusCode).toBe(201);
    expect((await h.call('GET', `/v1/verify/${recordId}`)).json().verdict).toBe('pending');

    const second = await h.admin('POST', `/v1/merchants/${id}/strikes`, { reason: 'again' });
    expect(second.statusCode).toBe(200);
    expect(second.json()).toMatchObject({ status: 'suspended', strikes: [{ number: 1 }, { number: 2 }] });
    expect(Date.parse(second.json().suspendedSince)).not.toBeNaN();

    const before = await rowCounts(db());
    const denied = await register(apiKey, 'strike-3');
    expect(denied.statusCode).toBe(401);
    expect(denied.json().code).toBe('unauthorized');
    const event = await h.call('POST', `/v1/records/${recordId}/events`, {
      token: apiKey,
      body: { type: 'sold' },
    });
    expect(event.statusCode).toBe(401);
    expect(await rowCounts(db())).toEqual(before);
    const keys = await db()
      .selectFrom('api_keys')
      .select('revoked_at')
      .where('merchant_id', '=', id)
      .execute();
    expect(keys.every((k) => k.revoked_at !== null)).toBe(true);

    const verdict = await h.call('GET', `/v1/verify/${recordId}`);
    expect(verdict.statusCode).toBe(200);
    expect(verdict.json()).toMatchObject({
      verdict: 'merchant_suspended',
      merchant: { id, status: 'suspended' },
    });

    const profile = (await h.call('GET', `/v1/merchants/${id}`)).json();
    expect(profile).toMatchObject({
      name: 'Strike Shop',
      status: 'suspended',
      strikes: [{ number: 1 }, { number: 2 }],
    });
    expect(profile.verifiedSince).not.toBeNull();

    // Suspension is final through the API: no third strike, no re-verification, no new key.
    expect((await h.admin('POST', `/v1/merchants/${id}/strikes`, { reason: 'x' })).json().code).toBe(
      'merchant_suspended',
    );
    const reverify = await h.admin('POST', `/v1/merchants/${id}/verify`, { evidence: EVIDENCE });
    expect(reverify.statusCode).toBe(409);
    const rotate = await h.admin('POST', `/v1/merchants/${id}/keys`);
    expect(rotate.statusCode).toBe(409);
    expect(rotate.json().code).toBe('merchant_suspended');
    expect(await rowCounts(db())).toEqual(before);
  });

  it('two strikes at once take numbers 1 and 2, never 1 twice', async (t) => {
    if (skip) return t.skip(skip);
    const { id } = await h.verifiedMerchant('Racing Strikes');
    const results = await Promise.all([
      h.admin('POST', `/v1/merchants/${id}/strikes`, { reason: 'a' }),
      h.admin('POST', `/v1/merchants/${id}/strikes`, { reason: 'b' }),
    ]);
    for (const r of results) expect([200, 409]).toContain(r.statusCode);
    const strikes = await db()
      .selectFrom('merchant_strikes')
      .select('number')
      .where('merchant_id', '=', id)
      .orderBy('number')
      .execute();
    const numbers = strikes.map((s) => s.number);
    expect(numbers).toEqual(numbers.map((_, i) => i + 1));
    const profile = (await h.call('GET', `/v1/merchants/${id}`)).json();
    expect(profile.status).toBe(numbers.length >= 2 ? 'suspended' : 'verified');
    expect(results.filter((r) => r.statusCode === 200)).toHaveLength(numbers.length);
  });

  it('rotating a key: the new one works, the old one is 401', async (t) => {
    if (skip) return t.skip(skip);
    const { id, apiKey: oldKey } = await h.verifiedMerchant('Rotating Keys');
    expect((await register(oldKey, 'rotate-1')).statusCode).toBe(201);

    const rotated = await h.admin('POST', `/v1/merchants/${id}/keys`);
    expect(rotated.statusCode).toBe(201);
    const { apiKey: newKey, ...rest } = rotated.json();
    expect(rest).toEqual({ id, name: 'Rotating Keys', status: 'verified' });
    expect(newKey).not.toBe(oldKey);

    const stale = await register(oldKey, 'rotate-2');
    expect(stale.statusCode).toBe(401);
    expect((await register(newKey, 'rotate-2')).statusCode).toBe(201);
    // The new key sees the old key's records as its own (same merchant): a replay is idempotent.
    expect((await register(newKey, 'rotate-1')).statusCode).toBe(200);

    const keys = await db()
      .selectFrom('api_keys')
      .select(['key_hash', 'revoked_at'])
      .where('merchant_id', '=', id)
      .execute();
    expect(keys).toHaveLength(2);
    expect(keys.find((k) => k.key_hash === sha256Hex(oldKey))!.revoked_at).not.toBeNull();
    expect(keys.find((k) => k.key_hash === sha256Hex(newKey))!.revoked_at).toBeNull();
    const text = await everyRowAsText(db());
    expect(text).not.toContain(oldKey);
    expect(text).not.toContain(newKey);
  });

  it('validates the merchant body', async (t) => {
    if (skip) return t.skip(skip);
    const before = await rowCounts(db());
    for (const body of [
      {},
      { name: '' },
      { name: 'x'.repeat(201) },
      { name: 'ok', contactEmail: 'not-an-email' },
      { name: 'ok', contactEmail: `${'a'.repeat(250)}@b.cd` },
      { name: 'ok', status: 'verified' },
      { name: 42 },
    ]) {
      const res = await h.admin('POST', '/v1/merchants', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json()).toMatchObject({ statusCode: 400, error: 'Bad Request', code: 'invalid_request' });
    }
    expect(await rowCounts(db())).toEqual(before);
  });
});
