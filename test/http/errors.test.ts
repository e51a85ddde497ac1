/**
 * Bad input and how errors leave: schema violations (unknown fields, over-long strings, too many
 * records, wrong kinds), broken JSON, oversized bodies, malformed Authorization headers, a pending
 * merchant, unknown routes; every error is JSON {statusCode, error, message, code}, nothing is
 * written by a rejected request, and a 5xx says only "internal error". Which credential each route
 * takes (none, unknown, another merchant's, suspended, rotated out, admin) is the matrix in
 * test/http/authorisation.test.ts.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { BACKENDS, postgresSkipReason } from '../helpers/databases.ts';
import { ADMIN_TOKEN, startHarness, type Harness } from '../helpers/harness.ts';
import { rowCounts } from '../helpers/db-inspect.ts';
import { recordBody } from '../helpers/records.ts';

/** The one error shape, with the status in the body matching the response's. */
function expectError(res: LightMyRequestResponse, statusCode: number, code: string, what = ''): void {
  expect(res.statusCode, `${what}: ${res.body.slice(0, 300)}`).toBe(statusCode);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json();
  expect(Object.keys(body).sort()).toEqual(['code', 'error', 'message', 'statusCode']);
  expect(body).toMatchObject({ statusCode, code, error: expect.any(String), message: expect.any(String) });
  expect(body.message.length).toBeGreaterThan(0);
}

describe.each(BACKENDS)('rejected requests (%s)', (backend) => {
  let h: Harness;
  let skip: string | null = null;
  let shop: { id: string; apiKey: string };
  let rival: { id: string; apiKey: string };
  let recordId: string;
  beforeAll(async () => {
    if (backend === 'postgres') skip = await postgresSkipReason();
    if (skip) return;
    h = await startHarness({ backend, startBatcher: false });
    shop = await h.verifiedMerchant('Error Shop');
    rival = await h.verifiedMerchant('Rival');
    const res = await h.call('POST', '/v1/records', {
      token: shop.apiKey,
      body: { records: [recordBody('err-1')] },
    });
    recordId = res.json().records[0].id;
  });
  afterAll(async () => h?.close());

  /** Sends `send`, checks the error, and that no table gained or lost a row. */
  async function rejected(
    send: () => Promise<LightMyRequestResponse>,
    statusCode: number,
    code: string,
    what = '',
  ) {
    const before = await rowCounts(h.runtime.storage.db);
    const res = await send();
    expectError(res, statusCode, code, what);
    expect(await rowCounts(h.runtime.storage.db), what).toEqual(before);
    return res;
  }
  const records =
    (body: unknown, token = shop.apiKey) =>
    () =>
      h.call('POST', '/v1/records', { token, body });
  const raw =
    (method: string, url: string, payload: string, headers: Record<string, string> = {}) =>
    () =>
      h.app.inject({ method: method as 'POST', url, payload, headers });

  it('schema violations are 400 invalid_request and write nothing', async (t) => {
    if (skip) return t.skip(skip);
    const r = recordBody('schema-1');
    const cases: Array<[string, unknown]> = [
      ['no records key', {}],
      ['records not an array', { records: r }],
      ['empty records', { records: [] }],
      ['unknown top-level field', { records: [r], dryRun: true }],
      ['unknown record field', { records: [{ ...r, price: 10 }] }],
      ['missing serial', { records: [{ ...r, serial: undefined }] }],
      ['wrong kind', { records: [{ ...r, kind: 'gift-card' }] }],
      ['kind in capitals', { records: [{ ...r, kind: 'LICENCE' }] }],
      ['number for a string', { records: [{ ...r, sku: 12345 }] }],
      ['string for metadata', { records: [{ ...r, metadata: 'x' }] }],
      ['nested metadata', { records: [{ ...r, metadata: { a: { b: 1 } } }] }],
      ['metadata array value', { records: [{ ...r, metadata: { a: [1] } }] }],
      [
        'too many metadata keys',
        {
          records: [
            { ...r, metadata: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, i])) },
          ],
        },
      ],
      ['externalId of 129', { records: [{ ...r, externalId: 'e'.repeat(129) }] }],
      ['sku of 129', { records: [{ ...r, sku: 's'.repeat(129) }] }],
      ['productName of 301', { records: [{ ...r, productName: 'p'.repeat(301) }] }],
      ['serial of 201', { records: [{ ...r, serial: 's'.repeat(201) }] }],
      ['secret of 501', { records: [{ ...r, secret: 's'.repeat(501) }] }],
      ['metadata value of 501', { records: [{ ...r, metadata: { note: 'n'.repeat(501) } }] }],
      ['metadata key of 65', { records: [{ ...r, metadata: { ['k'.repeat(65)]: 'v' } }] }],
      ['empty externalId', { records: [{ ...r, externalId: '' }] }],
      // PostgreSQL text cannot hold NUL; JSON canonicalisation cannot hold a lone surrogate.
      ['NUL in serial', { records: [{ ...r, serial: 'SN\u0000-1' }] }],
      ['lone surrogate in productName', { records: [{ ...r, productName: 'card \ud800' }] }],
      ['NUL in a metadata key', { records: [{ ...r, metadata: { 'a\u0000': 'v' } }] }],
      ['1,001 records', { records: Array.from({ length: 1001 }, (_, i) => recordBody(`many-${i}`)) }],
    ];
    for (const [what, body] of cases) {
      const res = await rejected(records(body), 400, 'invalid_request', what);
      expect(res.json().error, what).toBe('Bad Request');
    }
    // Exactly at the limits is fine.
    const edge = {
      ...r,
      externalId: 'e'.repeat(128),
      productName: 'p'.repeat(300),
      secret: 's'.repeat(500),
      metadata: { ['k'.repeat(64)]: 'v'.repeat(500) },
    };
    expect(
      (await h.call('POST', '/v1/records', { token: shop.apiKey, body: { records: [edge] } })).statusCode,
    ).toBe(201);

    const events: Array<[string, unknown]> = [
      ['no type', {}],
      ['unknown type', { type: 'stolen' }],
      ['issued is not an event', { type: 'issued' }],
      ['unknown field', { type: 'sold', at: '2026-01-01' }],
      ['data not an object', { type: 'sold', data: 'x' }],
      ['data value too long', { type: 'sold', data: { channel: 'b'.repeat(501) } }],
      ['data key too long', { type: 'sold', data: { ['k'.repeat(65)]: 'v' } }],
    ];
    for (const [what, body] of events) {
      await rejected(
        () => h.call('POST', `/v1/records/${recordId}/events`, { token: shop.apiKey, body }),
        400,
        'invalid_request',
        what,
      );
    }
    await rejected(() => h.call('GET', `/v1/records/${'x'.repeat(65)}`), 400, 'invalid_request');
    await rejected(() => h.call('GET', '/v1/records/has.dots'), 400, 'invalid_request');
    await rejected(() => h.admin('POST', '/v1/merchants', { name: 'n'.repeat(201) }), 400, 'invalid_request');
    await rejected(() => h.admin('POST', '/v1/merchants', { name: 'shop\u0000' }), 400, 'invalid_request');
    await rejected(
      () => h.admin('POST', `/v1/merchants/${rival.id}/strikes`, { reason: 'r'.repeat(1001) }),
      400,
      'invalid_request',
    );
    await rejected(
      () => h.call('POST', `/v1/verify/${recordId}/secret`, { body: { secret: 'x'.repeat(501) } }),
      400,
      'invalid_request',
    );
  });

  it('broken or empty JSON is 400 invalid_json; other media types are refused', async (t) => {
    if (skip) return t.skip(skip);
    const json = { 'content-type': 'application/json', authorization: `Bearer ${shop.apiKey}` };
    for (const payload of [
      '{"records": [',
      '{records: []}',
      "{'records': []}",
      '[1,]',
      '{"records": [] "x": 1}',
    ]) {
      await rejected(raw('POST', '/v1/records', payload, json), 400, 'invalid_json', payload);
    }
    await rejected(raw('POST', '/v1/records', '', json), 400, 'invalid_json');
    // Bytes that are not UTF-8 (Latin-1 "é") would be stored as U+FFFD: refused instead.
    const latin1 = Buffer.from(
      JSON.stringify({ records: [recordBody('latin-1', { productName: 'caf\u00e9' })] }),
      'latin1',
    );
    const refused = await rejected(
      () => h.app.inject({ method: 'POST', url: '/v1/records', payload: latin1, headers: json }),
      400,
      'invalid_json',
    );
    expect(refused.json().message).toBe('the body is not valid UTF-8');
    await rejected(
      raw('POST', '/v1/verify', '{"format":', { 'content-type': 'application/json' }),
      400,
      'invalid_json',
    );
    await rejected(
      raw('POST', '/v1/records', '<records/>', {
        'content-type': 'application/xml',
        authorization: `Bearer ${shop.apiKey}`,
      }),
      415,
      'unsupported_media_type',
    );
    // A body that is not JSON at all cannot pass the schema either.
    await rejected(
      raw('POST', '/v1/records', 'records=1', {
        'content-type': 'text/plain',
        authorization: `Bearer ${shop.apiKey}`,
      }),
      400,
      'invalid_request',
    );
  });

  it('malformed Authorization headers are 401 unauthorized; a pending merchant 403', async (t) => {
    if (skip) return t.skip(skip);
    const body = { records: [recordBody('auth-1')] };
    for (const authorization of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      `Basic ${Buffer.from(`x:${shop.apiKey}`).toString('base64')}`,
      `Token ${shop.apiKey}`,
      `Bearer ${shop.apiKey}x`,
      `Bearer ${shop.apiKey} extra`,
    ]) {
      const res = await rejected(
        () =>
          h.app.inject({
            method: 'POST',
            url: '/v1/records',
            payload: body,
            headers: authorization === undefined ? {} : { authorization },
          }),
        401,
        'unauthorized',
        String(authorization),
      );
      expect(res.json().error).toBe('Unauthorized');
    }
    // The scheme is case-insensitive, as RFC 7235 says.
    expect(
      (
        await h.app.inject({
          method: 'POST',
          url: '/v1/records',
          payload: body,
          headers: { authorization: `bearer ${shop.apiKey}` },
        })
      ).statusCode,
    ).toBe(201);

    const pending = (await h.admin('POST', '/v1/merchants', { name: 'Not Yet' })).json();
    await rejected(records({ records: [recordBody('pending-1')] }, pending.apiKey), 403, 'merchant_pending');
  });

  it('unknown routes are 404 route_not_found; unknown things 404 with their own code', async (t) => {
    if (skip) return t.skip(skip);
    for (const [method, url] of [
      ['GET', '/v1/nothing-here'],
      ['GET', '/v2/records'],
      ['DELETE', '/v1/records'],
      ['PUT', `/v1/records/${recordId}`],
      ['POST', `/v1/records/${recordId}/unknown`],
      ['GET', '/v1/admin'],
      ['PATCH', '/v1/merchants'],
    ]) {
      const res = await rejected(
        () => h.call(method!, url!, { token: ADMIN_TOKEN, body: method === 'GET' ? undefined : {} }),
        404,
        'route_not_found',
        url,
      );
      expect(res.json().message).toContain(url!.split('?')[0]);
    }
    expectError(await h.call('GET', '/v1/records/AAAAAAAAAAAAAAAAAAAAAA'), 404, 'record_not_found');
    expectError(await h.call('GET', '/v1/merchants/AAAAAAAAAAAAAAAAAAAAAA'), 404, 'merchant_not_found');
    expectError(await h.call('GET', '/v1/batches/42'), 404, 'batch_not_found');
    // The router's own refusals, in the same shape.
    expectError(await h.call('GET', '/v1/records/%E0%A4%A'), 400, 'invalid_url');
    expectError(await h.call('GET', `/v1/records/${'x'.repeat(150)}/proofs`), 414, 'uri_too_long');
  });

  it('conflicts are 409 with their own code and write nothing', async (t) => {
    if (skip) return t.skip(skip);
    await rejected(
      records({ records: [{ ...recordBody('err-1'), serial: 'other' }] }),
      409,
      'external_id_conflict',
    );
    await rejected(
      records({ records: [recordBody('dup'), recordBody('dup')] }),
      400,
      'duplicate_external_id',
    );
    const refund = () =>
      h.call('POST', `/v1/records/${recordId}/events`, { token: shop.apiKey, body: { type: 'refunded' } });
    await rejected(refund, 409, 'lifecycle_violation');
  });
});

// One instance for both: the oversized bodies first, then the database is closed under it.
describe('oversized bodies, then a 5xx (sqlite, BODY_LIMIT_BYTES=1024)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ startBatcher: false, env: { BODY_LIMIT_BYTES: '1024' } });
  });
  afterAll(async () => h?.close());

  it('bodies over the limit are 413 body_too_large and write nothing', async () => {
    const { apiKey } = await h.verifiedMerchant('Small Bodies');
    const small = { records: [recordBody('small-1')] };
    expect(JSON.stringify(small).length).toBeLessThan(1024);
    expect((await h.call('POST', '/v1/records', { token: apiKey, body: small })).statusCode).toBe(201);

    const before = await rowCounts(h.runtime.storage.db);
    const big = { records: Array.from({ length: 12 }, (_, i) => recordBody(`big-${i}`)) };
    expect(JSON.stringify(big).length).toBeGreaterThan(1024);
    const res = await h.call('POST', '/v1/records', { token: apiKey, body: big });
    expectError(res, 413, 'body_too_large');
    expect(res.json().error).toBe('Payload Too Large');
    // An anonymous client cannot make the server read a large body: it is refused at the key, before
    // the body is read (issue 13: authentication before body parsing).
    expectError(await h.call('POST', '/v1/records', { body: big }), 401, 'unauthorized');
    expectError(
      await h.call('POST', '/v1/verify', { body: { padding: 'x'.repeat(2000) } }),
      413,
      'body_too_large',
    );
    expect(await rowCounts(h.runtime.storage.db)).toEqual(before);
  });

  it('a 5xx says only "internal error" and logs the cause', async () => {
    const { apiKey } = await h.verifiedMerchant('Doomed Shop');
    const reg = await h.call('POST', '/v1/records', {
      token: apiKey,
      body: { records: [recordBody('doomed-1')] },
    });
    const id = reg.json().records[0].id;

    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const app = await buildApp(h.runtime.services, { logger: pino({ level: 'error' }, stream) });
    await app.ready();
    try {
      // The database closes under the running app.
      await h.runtime.storage.db.destroy();
      for (const [method, url, payload] of [
        ['GET', `/v1/records/${id}`, undefined],
        ['GET', `/v1/verify/${id}`, undefined],
        ['POST', '/v1/records', { records: [recordBody('doomed-2')] }],
        ['GET', '/v1/batches', undefined],
      ] as const) {
        const res = await app.inject({
          method,
          url,
          headers: { authorization: `Bearer ${apiKey}` },
          ...(payload ? { payload } : {}),
        });
        expectError(res, 500, 'internal_error');
        expect(res.json()).toEqual({
          statusCode: 500,
          error: 'Internal Server Error',
          message: 'internal error',
          code: 'internal_error',
        });
        expect(res.body).not.toMatch(/destroy|sqlite|kysely|select|stack/i);
      }
      const log = lines.join('');
      expect(log).toContain('request failed');
      expect(log).toMatch(/destroy/i);
    } finally {
      await app.close();
    }
  });
});
