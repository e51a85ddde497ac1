/**
 * Every public answer says how long it may be reused (src/http/cache-control.ts): `no-store` for
 * everything that can change (verdicts JSON and HTML, records, proofs, merchants, batches, chain,
 * health, secret checks) and for every error; a year, immutable, for what never changes (a record's
 * QR code, a sealed batch's leaves).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMMUTABLE } from '../../src/http/cache-control.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { recordBody } from '../helpers/records.ts';

let h: Harness;
const ids = { record: '', merchant: '', batch: 0 };
let bundle: unknown;

beforeAll(async () => {
  h = await startHarness({ env: { RATE_LIMIT_SECRET_PER_MINUTE: '2' } });
  const { id, apiKey } = await h.verifiedMerchant('Cached Shop');
  ids.merchant = id;
  const res = await h.call('POST', '/v1/records', {
    token: apiKey,
    body: { records: [recordBody('cc-1', { secret: 'PIN-1234' })] },
  });
  ids.record = res.json().records[0].id;
  await h.sealAndWaitFinal();
  ids.batch = (await h.call('GET', '/v1/batches')).json().batches[0].id;
  bundle = (await h.call('GET', `/v1/records/${ids.record}/proofs`)).json().bundles[0];
}, 120_000);
afterAll(async () => h?.close());

const form = { 'content-type': 'application/x-www-form-urlencoded' };

describe('Cache-Control on every public answer', () => {
  it.each([
    ['GET', '/healthz', 200, 'no-store'],
    ['GET', '/v1/chain', 200, 'no-store'],
    ['GET', '/openapi.json', 200, 'no-store'],
    ['GET', '/v1/verify/:record', 200, 'no-store'],
    ['POST', '/v1/verify', 200, 'no-store'],
    ['POST', '/v1/verify/:record/secret', 200, 'no-store'],
    ['GET', '/v/:record', 200, 'no-store'],
    ['POST', '/v/:record/secret', 200, 'no-store'],
    ['GET', '/v1/records/:record', 200, 'no-store'],
    ['GET', '/v1/records/:record/proofs', 200, 'no-store'],
    ['GET', '/v1/merchants/:merchant', 200, 'no-store'],
    ['GET', '/v1/batches', 200, 'no-store'],
    ['GET', '/v1/batches/:batch', 200, 'no-store'],
    ['GET', '/v1/batches/:batch/leaves', 200, IMMUTABLE],
    ['GET', '/v1/records/:record/qr.png', 200, IMMUTABLE],
    ['GET', '/v1/records/:record/qr.svg', 200, IMMUTABLE],
    ['GET', '/v1/records/no-such-record', 404, 'no-store'],
    ['GET', '/v1/records/no-such-record/qr.png', 404, 'no-store'],
    ['GET', '/v1/batches/999/leaves', 404, 'no-store'],
    ['GET', '/no/such/route', 404, 'no-store'],
  ] as const)('%s %s: %i, %s', async (method, path, status, cacheControl) => {
    const url = path
      .replace(':record', ids.record)
      .replace(':merchant', ids.merchant)
      .replace(':batch', String(ids.batch));
    const res = await h.app.inject({
      method,
      url,
      ...(url.endsWith('/v1/verify') && { payload: bundle as object }),
      ...(url.endsWith('/v1/verify/' + ids.record + '/secret') && { payload: { secret: 'wrong' } }),
      ...(url.startsWith('/v/') && method === 'POST' && { headers: form, payload: 'secret=wrong' }),
    });
    expect(res.statusCode, res.body.slice(0, 200)).toBe(status);
    expect(res.headers['cache-control']).toBe(cacheControl);
  });

  it('a 429 is not to be stored either', async () => {
    let res;
    for (let i = 0; i < 3; i++) {
      res = await h.app.inject({
        method: 'POST',
        url: `/v1/verify/${ids.record}/secret`,
        payload: { secret: 'wrong' },
        remoteAddress: '10.9.9.9',
      });
    }
    expect(res!.statusCode).toBe(429);
    expect(res!.headers['cache-control']).toBe('no-store');
  });
});
