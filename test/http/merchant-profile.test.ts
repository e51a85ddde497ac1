/**
 * A merchant's credit record over a real port, on SQLite and PostgreSQL: GET /v1/merchants/:id/profile
 * and the page /m/:id after a revocation, a refund, a strike and a dispute (whose events are stored
 * directly: the dispute routes are another branch's), and the verification page's link and times.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, postgresSkipReason } from '../helpers/databases.ts';
import { ADMIN_TOKEN, startHarness, type Harness } from '../helpers/harness.ts';
import { recordBody } from '../helpers/records.ts';

const REASON = 'sold a revoked key, ticket 4471';

describe.each(BACKENDS)('merchant credit record over a real port (%s)', (backend) => {
  let h: Harness;
  let base: string;
  let skip: string | null = null;
  let merchantId: string;
  let recordIds: string[];
  let strikeAt: string;

  async function api(method: string, path: string, opts: { token?: string; body?: unknown } = {}) {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
    const text = await res.text();
    if (method === 'POST' && res.status >= 300) throw new Error(`${path}: ${res.status} ${text}`);
    return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
  }

  beforeAll(async () => {
    if (backend === 'postgres') skip = await postgresSkipReason();
    if (skip) return;
    h = await startHarness({ backend, startBatcher: false });
    base = await h.app.listen({ port: 0, host: '127.0.0.1' });
    const merchant = await h.verifiedMerchant('信用 Credit Shop');
    merchantId = merchant.id;
    const token = merchant.apiKey;
    const registered = await api('POST', '/v1/records', {
      token,
      body: { records: ['a', 'b', 'c', 'd'].map((x) => recordBody(`credit-${x}`)) },
    });
    recordIds = registered.json().records.map((r: { id: string }) => r.id);
    const [revoked, refunded, disputed] = recordIds;
    await api('POST', `/v1/records/${revoked}/events`, { token, body: { type: 'revoked' } });
    await api('POST', `/v1/records/${refunded}/events`, { token, body: { type: 'sold' } });
    await api('POST', `/v1/records/${refunded}/events`, { token, body: { type: 'refunded' } });
    const struck = await api('POST', `/v1/merchants/${merchantId}/strikes`, {
      token: ADMIN_TOKEN,
      body: { reason: REASON },
    });
    strikeAt = struck.json().strikes[0].at;
    // A dispute answered in 90 s and decided for the buyer, as the dispute branch will record it.
    const dispute = (seq: number, type: string, at: string, data: object = {}) => ({
      record_id: disputed!,
      seq,
      type,
      content: JSON.stringify({ at, data, salt: '0x00', type }),
      leaf: `0x${String(seq).repeat(64)}`,
      prev_leaf: `0x${String(seq - 1).repeat(64)}`,
      created_at: at,
      batch_id: null,
      leaf_index: null,
    });
    await h.runtime.storage.events.insertMany([
      dispute(1, 'dispute_opened', '2026-11-30T02:00:00.000Z'),
      dispute(2, 'dispute_answered', '2026-11-30T02:01:30.000Z'),
      dispute(3, 'dispute_decided', '2026-11-30T03:00:00.000Z', { decision: 'buyer' }),
    ]);
  });
  afterAll(async () => h?.close());

  it('the profile counts the revocation, the refund, the dispute and the strike, and says so briefly cacheable', async (t) => {
    if (skip) return t.skip(skip);
    const res = await api('GET', `/v1/merchants/${merchantId}/profile`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=60');
    expect(res.json()).toEqual({
      id: merchantId,
      name: '信用 Credit Shop',
      status: 'verified',
      suspended: false,
      verifiedSince: expect.stringMatching(/Z$/),
      suspendedSince: null,
      evidence: [expect.objectContaining({ description: expect.any(String), sha256: expect.any(String) })],
      itemsIssued: 4,
      revoked: 1,
      revokedShare: 0.25,
      refunded: 1,
      refundedShare: 0.25,
      disputesOpened: 1,
      disputesLost: 1,
      disputesAnswered: 1,
      medianResponseSeconds: 90,
      strikes: { count: 1, dates: [strikeAt] },
    });
    expect(res.text).not.toContain(REASON);
  });

  it('an unknown merchant is 404 merchant_not_found, not cached; a malformed id is 400', async (t) => {
    if (skip) return t.skip(skip);
    const missing = await api('GET', '/v1/merchants/m_nobody/profile');
    expect(missing.status).toBe(404);
    expect(missing.json().code).toBe('merchant_not_found');
    expect(missing.headers.get('cache-control')).toBe('no-store');
    expect((await api('GET', '/v1/merchants/%3Cx%3E/profile')).status).toBe(400);
    const page = await api('GET', '/m/m_nobody');
    expect(page.status).toBe(404);
    expect(page.text).toContain('未找到');
    expect(page.text).not.toContain('href="/m/m_nobody"');
  });

  it('the page /m/:id shows the figures, their sources and Beijing times, never the reason', async (t) => {
    if (skip) return t.skip(skip);
    const res = await api('GET', `/m/${merchantId}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('cache-control')).toBe('public, max-age=60');
    const html = res.text;
    expect(html).toContain('data-merchant="verified"');
    for (const [figure, value] of [
      ['itemsIssued', 4],
      ['revoked', 1],
      ['refunded', 1],
      ['disputesOpened', 1],
      ['disputesLost', 1],
      ['strikes', 1],
    ] as const) {
      expect(html).toContain(`data-figure="${figure}">${value}</span>`);
    }
    expect(html).toContain('(25.0%)');
    expect(html).toContain('2 分钟 <span class="en" lang="en">2 min</span>'); // 90 s, to the minute
    expect(html).toContain('Source: ');
    expect(html).toMatch(
      /<time datetime="[^"]+Z"><span>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d<\/span> <span>\(UTC\+08:00\)<\/span><\/time>/,
    );
    expect(html).toContain(`<time datetime="${strikeAt}">`);
    expect(html).not.toContain(REASON);
  });

  it("the verification page links the merchant's name to /m/:id and shows times with the offset", async (t) => {
    if (skip) return t.skip(skip);
    const html = (await api('GET', `/v/${recordIds[3]}`)).text;
    expect(html).toContain(`<a class="merchant" href="/m/${merchantId}">`);
    expect(html).toMatch(/<span>\(UTC\+08:00\)<\/span><\/time>/);
    expect(html).not.toMatch(/ UTC<\/time>/);
  });
});
