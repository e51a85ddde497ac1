/**
 * GET /metrics: the admin token or METRICS_TOKEN, nothing else; the exposition parses under a strict
 * text-format parser; the figures move as records are registered, sealed and anchored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startHarness, type Harness } from '../helpers/harness.ts';
import { parsePrometheusText, valueOf, type Family } from '../helpers/prometheus-text.ts';
import { recordBody, registerMany } from '../helpers/records.ts';
import { waitFor } from '../helpers/wait.ts';

const METRICS_TOKEN = 'metrics-scraper-token-0123456789';

describe('GET /metrics', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { METRICS_TOKEN } });
  });
  afterAll(async () => h?.close());

  async function scrape(token = METRICS_TOKEN): Promise<Map<string, Family>> {
    const res = await h.call('GET', '/metrics', { token });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePrometheusText(res.body);
  }

  it('answers the admin token and METRICS_TOKEN only', async () => {
    expect((await h.call('GET', '/metrics')).statusCode).toBe(401);
    expect((await h.call('GET', '/metrics', { token: 'x'.repeat(32) })).statusCode).toBe(401);
    const { apiKey } = await h.verifiedMerchant('Scrape Shop');
    expect((await h.call('GET', '/metrics', { token: apiKey })).statusCode).toBe(401);
    await scrape(METRICS_TOKEN);
    await scrape(ADMIN_TOKEN);
    // The metrics token opens nothing else.
    expect((await h.call('POST', '/v1/admin/batches/seal', { token: METRICS_TOKEN })).statusCode).toBe(401);
  });

  it('parses strictly, and its figures move as records are registered, sealed and anchored', async () => {
    const before = await scrape();
    for (const name of [
      'proofmark_backlog_events',
      'proofmark_backlog_limit_events',
      'proofmark_batches',
      'proofmark_anchor_transactions_in_flight',
      'proofmark_ack_to_final_seconds',
      'proofmark_anchor_gas_used_total',
      'proofmark_anchor_fee_wei_total',
      'proofmark_anchorer_balance_wei',
      'proofmark_rpc_errors_total',
      'proofmark_batcher_failed_steps_total',
      'proofmark_finalized_head_age_seconds',
      'proofmark_http_requests_total',
      'proofmark_http_request_duration_seconds',
      'proofmark_batch_leaves',
      'proofmark_seal_duration_seconds',
      'proofmark_secret_wrong_guesses_total',
      'proofmark_secret_checks_refused_total',
      'proofmark_secret_records_exhausted_total',
      'proofmark_scans_total',
      'nodejs_eventloop_lag_max_seconds',
    ]) {
      expect(before.has(name), name).toBe(true);
    }
    const posted = (f: Map<string, Family>) =>
      valueOf(f, 'proofmark_http_requests_total', { method: 'POST', route: '/v1/records', status: '201' }) ??
      0;
    const final = (f: Map<string, Family>) => valueOf(f, 'proofmark_batches', { status: 'final' })!;
    const ackCount = (f: Map<string, Family>) => valueOf(f, 'proofmark_ack_to_final_seconds_count')!;

    const { apiKey } = await h.verifiedMerchant('Metrics Shop');
    await registerMany(h, apiKey, 'metrics', 250);
    const waiting = await scrape();
    expect(posted(waiting)).toBeGreaterThan(posted(before));
    expect(valueOf(waiting, 'proofmark_backlog_events')).toBeGreaterThanOrEqual(250);
    // Routes are labelled by their pattern, never by a raw URL.
    const routes = new Set(waiting.get('proofmark_http_requests_total')!.samples.map((s) => s.labels.route));
    expect([...routes].some((r) => r!.includes(':id') || r === '/metrics')).toBe(true);
    for (const route of routes) expect(route).not.toMatch(/\/v1\/merchants\/m_/);

    await h.sealAndWaitFinal();
    const after = await scrape();
    expect(final(after)).toBeGreaterThan(final(before));
    // The backlog is the admission gauge's count, read from the store at most once a second.
    await waitFor(
      'the backlog to drain',
      async () => valueOf(await scrape(), 'proofmark_backlog_events') === 0,
    );
    expect(valueOf(after, 'proofmark_anchor_gas_used_total')).toBeGreaterThan(50_000);
    expect(valueOf(after, 'proofmark_anchor_fee_wei_total')).toBeGreaterThan(0);
    expect(valueOf(after, 'proofmark_batch_leaves_count')).toBeGreaterThanOrEqual(1);
    // Every event of the new batch counted once, each within the time the test took.
    expect(ackCount(after) - ackCount(before)).toBeGreaterThanOrEqual(250);
    expect(valueOf(after, 'proofmark_ack_to_final_seconds_bucket', { le: '60' })).toBe(ackCount(after));
    // The balance is read in the background: by a later scrape it is known, and the dev account is rich.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(valueOf(await scrape(), 'proofmark_anchorer_balance_wei')).toBeGreaterThan(1e18);
  });

  it('counts wrong secrets, exhausted records, refused checks and scans', async () => {
    const before = await scrape();
    const { apiKey } = await h.verifiedMerchant('Guess Shop');
    const created = await h.call('POST', '/v1/records', {
      token: apiKey,
      body: { records: [{ ...recordBody('guess-1'), secret: '4821' }] },
    });
    expect(created.statusCode).toBe(201);
    const id = (created.json() as { records: Array<{ id: string }> }).records[0]!.id;
    const statuses: number[] = [];
    // The default budget is five wrong secrets per record per hour: the sixth is refused.
    for (let pin = 0; pin < 6; pin++) {
      const res = await h.call('POST', `/v1/verify/${id}/secret`, { body: { secret: String(pin) } });
      statuses.push(res.statusCode);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect((await h.call('GET', `/v1/verify/${id}`)).statusCode).toBe(200);
    const after = await scrape();
    const moved = (name: string, labels?: Record<string, string>) =>
      (valueOf(after, name, labels) ?? 0) - (valueOf(before, name, labels) ?? 0);
    expect(moved('proofmark_secret_wrong_guesses_total')).toBe(5);
    expect(moved('proofmark_secret_records_exhausted_total')).toBe(1);
    expect(moved('proofmark_secret_checks_refused_total')).toBe(1);
    const scans = (f: Map<string, Family>) =>
      f.get('proofmark_scans_total')!.samples.reduce((sum, s) => sum + s.value, 0);
    expect(scans(after)).toBeGreaterThan(scans(before));
  });
});
