/**
 * Limits (issue 7): the per-IP budgets of the secret checks and of the verdict routes, the
 * per-merchant budget of the merchant routes, and the backlog bound that answers 503 instead of
 * letting the anchoring queue grow without limit. Each limit answers 429 at exactly max+1 with a
 * Retry-After; a merchant's budget is its own and is not spent by requests that fail authentication;
 * a limit of 0 is off. The backlog is counted from the database, so it runs on both backends.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backlogRetryAfterSeconds, BacklogGauge } from '../../src/service/backlog.ts';
import { BACKENDS, postgresSkipReason } from '../helpers/databases.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { rowCounts } from '../helpers/db-inspect.ts';
import { recordBody } from '../helpers/records.ts';
import { waitFor } from '../helpers/wait.ts';

/** A 429 as the JSON API sends it: the one error shape, code rate_limited, and when to come back. */
function expectRateLimited(res: LightMyRequestResponse, what: string): void {
  expect(res.statusCode, `${what}: ${res.body.slice(0, 200)}`).toBe(429);
  expect(res.json()).toEqual({
    statusCode: 429,
    error: 'Too Many Requests',
    message: expect.stringMatching(/^Rate limit exceeded/),
    code: 'rate_limited',
  });
  expectRetryAfterWithinAMinute(res);
}

function expectRetryAfterWithinAMinute(res: LightMyRequestResponse): void {
  const retryAfter = String(res.headers['retry-after']);
  expect(retryAfter).toMatch(/^\d+$/);
  expect(Number(retryAfter)).toBeGreaterThan(0);
  expect(Number(retryAfter)).toBeLessThanOrEqual(60);
}

describe('rate limits', () => {
  const SECRET_MAX = 3;
  const VERIFY_MAX = 5;
  const MERCHANT_MAX = 4;
  let h: Harness;
  let recordId: string;
  let merchantId: string;

  beforeAll(async () => {
    h = await startHarness({
      startBatcher: false,
      env: {
        RATE_LIMIT_SECRET_PER_MINUTE: String(SECRET_MAX),
        RATE_LIMIT_VERIFY_PER_MINUTE: String(VERIFY_MAX),
        RATE_LIMIT_MERCHANT_PER_MINUTE: String(MERCHANT_MAX),
        // The per-record budget of wrong secrets is test/abuse/secret-guessing.test.ts's.
        SECRET_GUESSES_PER_WINDOW: '1000',
      },
    });
    const setup = await h.verifiedMerchant('Setup Shop');
    merchantId = setup.id;
    const res = await h.call('POST', '/v1/records', {
      token: setup.apiKey,
      body: { records: [recordBody('limits-1', { secret: 'PIN-4711' })] },
    });
    recordId = res.json().records[0].id;
  });
  afterAll(async () => h?.close());

  /** Each test takes its own client IP, so budgets spent in one cannot decide another. */
  const from = (ip: string) => ({
    verdict: () => h.app.inject({ method: 'GET', url: `/v1/verify/${recordId}`, remoteAddress: ip }),
    bundle: () => h.app.inject({ method: 'POST', url: '/v1/verify', payload: {}, remoteAddress: ip }),
    page: () => h.app.inject({ method: 'GET', url: `/v/${recordId}`, remoteAddress: ip }),
    apiSecret: (secret = 'wrong') =>
      h.app.inject({
        method: 'POST',
        url: `/v1/verify/${recordId}/secret`,
        payload: { secret },
        remoteAddress: ip,
      }),
    pageSecret: (secret = 'wrong') =>
      h.app.inject({
        method: 'POST',
        url: `/v/${recordId}/secret`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ secret }).toString(),
        remoteAddress: ip,
      }),
    write: (token: string | undefined, externalId: string) =>
      h.app.inject({
        method: 'POST',
        url: '/v1/records',
        headers: token ? { authorization: `Bearer ${token}` } : {},
        payload: { records: [recordBody(externalId)] },
        remoteAddress: ip,
      }),
    event: (token: string, id: string) =>
      h.app.inject({
        method: 'POST',
        url: `/v1/records/${id}/events`,
        headers: { authorization: `Bearer ${token}` },
        payload: { type: 'sold' },
        remoteAddress: ip,
      }),
  });

  it('the secret check: RATE_LIMIT_SECRET_PER_MINUTE per IP on each route, then 429', async () => {
    const client = from('10.7.1.1');
    for (let i = 1; i <= SECRET_MAX; i++) {
      const res = await client.apiSecret();
      expect(res.statusCode, `API check ${i}`).toBe(200);
      expect(res.headers['x-ratelimit-limit']).toBe(String(SECRET_MAX));
    }
    expectRateLimited(await client.apiSecret('PIN-4711'), 'API check past the limit');

    // The page's form has a budget of its own and answers its 429 as a page, with the same Retry-After.
    for (let i = 1; i <= SECRET_MAX; i++)
      expect((await client.pageSecret()).statusCode, `form ${i}`).toBe(200);
    const page = await client.pageSecret('PIN-4711');
    expect(page.statusCode).toBe(429);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('Too many attempts');
    expect(page.body).not.toContain('匹配');
    expectRetryAfterWithinAMinute(page);

    // Another client still gets its answer.
    expect((await from('10.7.1.2').apiSecret('PIN-4711')).json()).toEqual({ match: true });
  });

  it('the verdict routes: one RATE_LIMIT_VERIFY_PER_MINUTE budget per IP across all three', async () => {
    const client = from('10.7.2.1');
    const allowed = [client.verdict, client.bundle, client.page, client.verdict, client.bundle];
    expect(allowed).toHaveLength(VERIFY_MAX);
    for (const [i, send] of allowed.entries()) {
      const res = await send();
      expect(res.statusCode, `verdict request ${i + 1}: ${res.body.slice(0, 200)}`).toBe(200);
      expect(res.headers['x-ratelimit-remaining']).toBe(String(VERIFY_MAX - i - 1));
    }
    expectRateLimited(await client.verdict(), 'GET /v1/verify/:id past the limit');
    expectRateLimited(await client.bundle(), 'POST /v1/verify past the limit');
    const page = await client.page();
    expect(page.statusCode).toBe(429);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('Too many attempts');
    expectRetryAfterWithinAMinute(page);

    // Another IP, and the secret check's own budget, are untouched.
    expect((await from('10.7.2.2').verdict()).statusCode).toBe(200);
    expect((await client.apiSecret()).statusCode).toBe(200);
  });

  it("a merchant's profile and credit record, API and page, spend the same verdict budget", async () => {
    const ip = '10.7.2.3';
    const profile = () =>
      h.app.inject({ method: 'GET', url: `/v1/merchants/${merchantId}/profile`, remoteAddress: ip });
    const merchant = () =>
      h.app.inject({ method: 'GET', url: `/v1/merchants/${merchantId}`, remoteAddress: ip });
    const page = () => h.app.inject({ method: 'GET', url: `/m/${merchantId}`, remoteAddress: ip });
    const allowed = [profile, page, from(ip).verdict, merchant, page];
    expect(allowed).toHaveLength(VERIFY_MAX);
    for (const [i, send] of allowed.entries())
      expect((await send()).statusCode, `request ${i + 1}`).toBe(200);
    expectRateLimited(await profile(), 'GET /v1/merchants/:id/profile past the limit');
    expectRateLimited(await merchant(), 'GET /v1/merchants/:id past the limit');
    expect((await page()).statusCode).toBe(429);
    expectRateLimited(await from(ip).verdict(), 'GET /v1/verify/:id past the limit');
  });

  it('the merchant routes: RATE_LIMIT_MERCHANT_PER_MINUTE per merchant, not per IP', async () => {
    const client = from('10.7.3.1');
    const shop = await h.verifiedMerchant('Busy Shop');
    const other = await h.verifiedMerchant('Quiet Shop');
    // Registrations and events spend one budget.
    const first = await client.write(shop.apiKey, 'busy-1');
    expect(first.statusCode).toBe(201);
    const id = first.json().records[0].id;
    expect((await client.event(shop.apiKey, id)).statusCode).toBe(201);
    expect((await client.write(shop.apiKey, 'busy-2')).statusCode).toBe(201);
    expect((await client.write(shop.apiKey, 'busy-3')).statusCode).toBe(201);

    const before = await rowCounts(h.runtime.storage.db);
    expectRateLimited(await client.write(shop.apiKey, 'busy-4'), 'registration past the limit');
    expectRateLimited(await client.event(shop.apiKey, id), 'event past the limit');
    expect(await rowCounts(h.runtime.storage.db)).toEqual(before);

    // Another merchant on the same IP, and the same merchant from elsewhere, are judged by their key.
    expect((await client.write(other.apiKey, 'quiet-1')).statusCode).toBe(201);
    expectRateLimited(await from('10.7.3.2').write(shop.apiKey, 'busy-4'), 'same key, another IP');
  });

  it("requests refused at authentication spend no merchant's budget", async () => {
    const client = from('10.7.4.1');
    const shop = await h.verifiedMerchant('Targeted Shop');
    for (let i = 0; i < 3 * MERCHANT_MAX; i++) {
      const res = await client.write(i % 2 ? undefined : `pmk_not-a-key-${i}`, `flood-${i}`);
      expect(res.statusCode, `flood ${i}`).toBe(401);
      expect(res.json().code).toBe('unauthorized');
    }
    for (let i = 1; i <= MERCHANT_MAX; i++) {
      expect((await client.write(shop.apiKey, `targeted-${i}`)).statusCode, `write ${i}`).toBe(201);
    }
    expectRateLimited(await client.write(shop.apiKey, 'targeted-5'), 'write past the limit');
  });
});

describe.each(BACKENDS)('the backlog bound (%s)', (backend) => {
  const MAX_PENDING = 5;
  let h: Harness;
  let skip: string | null = null;
  let shop: { id: string; apiKey: string };

  beforeAll(async () => {
    if (backend === 'postgres') skip = await postgresSkipReason();
    if (skip) return;
    h = await startHarness({
      backend,
      startBatcher: false,
      env: {
        MAX_PENDING_EVENTS: String(MAX_PENDING),
        RATE_LIMIT_VERIFY_PER_MINUTE: '0',
        RATE_LIMIT_MERCHANT_PER_MINUTE: '0',
      },
    });
    shop = await h.verifiedMerchant('Backlog Shop');
  });
  afterAll(async () => h?.close());

  const register = (...externalIds: string[]) =>
    h.call('POST', '/v1/records', {
      token: shop.apiKey,
      body: { records: externalIds.map((id) => recordBody(id)) },
    });
  const addEvent = (id: string) =>
    h.call('POST', `/v1/records/${id}/events`, { token: shop.apiKey, body: { type: 'sold' } });

  function expectBacklogFull(res: LightMyRequestResponse, what: string): void {
    expect(res.statusCode, `${what}: ${res.body.slice(0, 200)}`).toBe(503);
    expect(res.json()).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: `anchoring is behind: ${MAX_PENDING} events wait; retry later`,
      code: 'backlog_full',
    });
    // The harness seals after an hour (counted as a minute) and polls every 50 ms with 1 confirmation.
    expect(res.headers['retry-after']).toBe('61');
  }

  it('answers 503 backlog_full at MAX_PENDING_EVENTS, writes nothing, and accepts again once final', async (t) => {
    if (skip) return t.skip(skip);
    const db = h.runtime.storage.db;
    const { events } = h.runtime.storage;
    expect((await register('b-1', 'b-2', 'b-3')).statusCode).toBe(201);
    const fourth = await register('b-4');
    expect(fourth.statusCode).toBe(201);
    // One short of the bound, an event is still accepted: it makes five.
    expect((await addEvent(fourth.json().records[0].id)).statusCode).toBe(201);
    expect(await events.countAwaitingFinal()).toBe(MAX_PENDING);

    const before = await rowCounts(db);
    expectBacklogFull(await register('b-5'), 'a new record');
    expectBacklogFull(await addEvent(fourth.json().records[0].id), 'an event');
    expectBacklogFull(
      await h.call('POST', `/v1/records/${fourth.json().records[0].id}/sealed-sale`, {
        token: shop.apiKey,
        body: { secret: 'K-b-4' },
      }),
      'a sealed sale',
    );
    // A replay of a registered record is refused too: the check comes before any database work.
    expectBacklogFull(await register('b-1'), 'a replay');
    expect(await rowCounts(db)).toEqual(before);

    // Sealed but not yet final still counts: the events are acknowledged, not anchored.
    expect((await h.admin('POST', '/v1/admin/batches/seal')).statusCode).toBe(200);
    expect(await events.countAwaitingFinal()).toBe(MAX_PENDING);
    expectBacklogFull(await register('b-5'), 'a new record while sealed');

    h.runtime.services.batcher.start();
    await h.sealAndWaitFinal();
    expect(await events.countAwaitingFinal()).toBe(0);
    // The gauge reads the database again within a second; until then writes are still refused.
    const accepted = await waitFor('a write to be accepted after the batch is final', async () => {
      const res = await register('b-5');
      if (res.statusCode === 503) return null;
      return res;
    });
    expect(accepted.statusCode).toBe(201);
    expect(await events.countAwaitingFinal()).toBe(1);
  });

  it('the gauge reads the database at most once a refresh and counts what it accepted in between', async (t) => {
    if (skip) return t.skip(skip);
    const { events } = h.runtime.storage;
    let now = 0;
    const gauge = new BacklogGauge(events, MAX_PENDING, 7, 1000, () => now);
    const pendingNow = await events.countAwaitingFinal();
    expect(await gauge.pending()).toBe(pendingNow);
    expect(await gauge.refusal()).toBeNull();

    const res = await register('g-1', 'g-2');
    expect(res.statusCode).toBe(201);
    // Cached: the new rows are not read within the refresh, only what this gauge is told it accepted.
    expect(await gauge.pending()).toBe(pendingNow);
    gauge.accepted(MAX_PENDING);
    expect((await gauge.refusal())?.statusCode).toBe(503);
    now += 999;
    expect(await gauge.pending()).toBe(pendingNow + MAX_PENDING);
    now += 1;
    expect(await gauge.pending()).toBe(pendingNow + 2);
    expect(await events.countAwaitingFinal()).toBe(pendingNow + 2);
  });

  it('a slow count spaces the next one out: ten times its duration when that exceeds the refresh', async (t) => {
    if (skip) return t.skip(skip);
    // The clock as the gauge sees it: the first check at 0, then a read that starts at 0 and takes 300 ms.
    const ticks = [0, 0, 300];
    let now = 0;
    const gauge = new BacklogGauge(
      h.runtime.storage.events,
      MAX_PENDING,
      7,
      1000,
      () => ticks.shift() ?? now,
    );
    const pendingNow = await gauge.pending();
    expect(ticks).toEqual([]);
    gauge.accepted(1); // stands until the next read replaces it
    now = 300 + 2999;
    expect(await gauge.pending()).toBe(pendingNow + 1);
    now = 300 + 3000;
    expect(await gauge.pending()).toBe(pendingNow);
  });

  it('rate limits at 0 are off: no budget, no rate-limit headers', async (t) => {
    if (skip) return t.skip(skip);
    await h.sealAndWaitFinal();
    await waitFor('the gauge to see the drained backlog', async () =>
      (await h.runtime.services.backlog.pending()) === 0 ? true : null,
    );
    const id = (await register('zero-1')).json().records[0].id;
    for (let i = 0; i < 25; i++) {
      const verdict = await h.call('GET', `/v1/verify/${id}`);
      expect(verdict.statusCode, `verdict ${i}`).toBe(200);
      expect(verdict.headers['x-ratelimit-limit']).toBeUndefined();
    }
    // The registration and three events: under the backlog bound, and no merchant budget to spend.
    for (const type of ['sold', 'activated', 'transferred']) {
      const res = await h.call('POST', `/v1/records/${id}/events`, { token: shop.apiKey, body: { type } });
      expect(res.statusCode, `${type}: ${res.body}`).toBe(201);
      expect(res.headers['x-ratelimit-limit']).toBeUndefined();
    }
    // The secret check cannot be turned off; its default budget still applies.
    const secret = await h.call('POST', `/v1/verify/${id}/secret`, { body: { secret: 'x' } });
    expect(secret.headers['x-ratelimit-limit']).toBe('10');
  });
});

describe('Retry-After of a full backlog', () => {
  it('is about one batch cycle: the seal age (up to a minute) and a poll per confirmation, 1 s to 5 min', () => {
    // The development defaults: 10 s to seal, 200 ms polls, 1 confirmation.
    expect(backlogRetryAfterSeconds({ batchMaxAgeMs: 10_000, chainPollMs: 200, confirmations: 1 })).toBe(11);
    // A real chain's defaults: 2 s polls, 12 confirmations.
    expect(backlogRetryAfterSeconds({ batchMaxAgeMs: 10_000, chainPollMs: 2000, confirmations: 12 })).toBe(
      36,
    );
    expect(backlogRetryAfterSeconds({ batchMaxAgeMs: 10, chainPollMs: 10, confirmations: 1 })).toBe(1);
    expect(
      backlogRetryAfterSeconds({ batchMaxAgeMs: 86_400_000, chainPollMs: 600_000, confirmations: 99 }),
    ).toBe(300);
  });
});
