/**
 * How the API client reports what went wrong, on stub transports (no service): every failure is one
 * ApiError with the status and the API's code, and a message the CLI prints as it is.
 */
import { describe, expect, it } from 'vitest';
import { ApiClient, fetchJson } from '../../src/client/client.ts';
import { ApiError } from '../../src/client/errors.ts';
import type { Transport, TransportRequest } from '../../src/client/transport.ts';

const encode = (text: string) => new TextEncoder().encode(text);

/** A transport that answers every request with `status` and `body`, and remembers the requests. */
function answering(status: number, body: string, statusText = '') {
  const seen: TransportRequest[] = [];
  const transport: Transport = async (request) => {
    seen.push(request);
    return { status, statusText, headers: { 'content-type': 'application/json' }, body: encode(body) };
  };
  return { seen, client: new ApiClient('http://service.test', { transport }) };
}

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}

describe('the API client', () => {
  it("turns the API's error body into its message and code", async () => {
    const body = {
      statusCode: 404,
      error: 'Not Found',
      message: 'no merchant with id m_x',
      code: 'merchant_not_found',
    };
    const err = await failure(answering(404, JSON.stringify(body)).client.merchant('m_x'));
    expect(err).toMatchObject({
      status: 404,
      code: 'merchant_not_found',
      method: 'GET',
      path: '/v1/merchants/m_x',
    });
    expect(err.message).toBe('no merchant with id m_x (merchant_not_found)');
  });

  it('names method, path and status when the error body is not the API’s', async () => {
    const err = await failure(answering(502, '<html>bad gateway</html>', 'Bad Gateway').client.health());
    expect(err).toMatchObject({ status: 502, code: null });
    expect(err.message).toBe('GET /healthz failed: HTTP 502 Bad Gateway');
    const coded = await failure(answering(500, JSON.stringify({ message: 'boom' })).client.health());
    expect(coded.message).toBe('boom (HTTP 500)');
  });

  it('refuses a success whose body is not JSON', async () => {
    const err = await failure(answering(200, 'not json').client.chain());
    expect(err).toMatchObject({ status: 200, code: null });
    expect(err.message).toBe('GET /v1/chain returned HTTP 200 with a body that is not JSON');
  });

  it('says which service it could not reach, with the cause', async () => {
    const err = await failure(new ApiClient('http://127.0.0.1:9').health());
    expect(err).toMatchObject({ status: null, code: null });
    expect(err.message).toMatch(/^cannot reach http:\/\/127\.0\.0\.1:9 \(GET \/healthz\): fetch failed: \S/);
    expect(err.cause).toBeInstanceOf(Error);
    const viaUrl = await failure(fetchJson('http://127.0.0.1:9/v1/records/r1/proofs?x=1'));
    expect(viaUrl.message).toMatch(
      /^cannot reach http:\/\/127\.0\.0\.1:9 \(GET \/v1\/records\/r1\/proofs\?x=1\): /,
    );
  });

  it('sends the token, JSON only with a body, and escapes ids into paths', async () => {
    const { seen, client } = answering(200, '{}');
    await client.withToken('k3y').addEvent('a/b c', { type: 'sold' });
    await client.record('r1');
    expect(seen[0]).toEqual({
      method: 'POST',
      path: '/v1/records/a%2Fb%20c/events',
      headers: {
        accept: 'application/json',
        authorization: 'Bearer k3y',
        'content-type': 'application/json',
      },
      body: '{"type":"sold"}',
    });
    expect(seen[1]).toEqual({
      method: 'GET',
      path: '/v1/records/r1',
      headers: { accept: 'application/json' },
    });
  });

  it('reads a not_found verdict (HTTP 404) as a verdict, and any other 404 as an error', async () => {
    const notFound = {
      verdict: 'not_found',
      recordId: 'nope',
      reason: 'no item was registered under this code',
    };
    expect(await answering(404, JSON.stringify(notFound)).client.verdict('nope')).toEqual(notFound);
    const other = { statusCode: 404, error: 'Not Found', message: 'route not found', code: 'not_found' };
    expect(await failure(answering(404, JSON.stringify(other)).client.verdict('nope'))).toMatchObject({
      status: 404,
      code: 'not_found',
    });
  });

  it('tells a registration that created records from a whole replay', async () => {
    const body = JSON.stringify({
      records: [{ id: 'r1', externalId: 'e1', status: 'pending', verifyUrl: 'u' }],
    });
    expect((await answering(201, body).client.registerRecords([])).created).toBe(true);
    expect((await answering(200, body).client.registerRecords([])).created).toBe(false);
  });
});
