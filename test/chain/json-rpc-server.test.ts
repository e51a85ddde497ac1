/**
 * The development chain's JSON-RPC server over a scripted EIP-1193 provider: it answers as Hardhat's
 * own server does (batches, ids, error codes and wording, revert data and transaction hash in
 * `error.data`), which ethers and the service's error matching rely on. No Hardhat here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveJsonRpc, type JsonRpcHttpServer } from '../../src/chain/json-rpc-server.ts';

/** What a Hardhat provider throws: ProviderErrors carry a numeric code; Solidity stack traces do not. */
function providerError(message: string, code: number, data?: unknown): Error {
  return Object.assign(new Error(message), { code, data });
}

const provider = {
  async request({ method, params }: { method: string; params?: unknown[] }): Promise<unknown> {
    switch (method) {
      case 'eth_chainId':
        return '0x7a69';
      case 'echo':
        return params;
      case 'nothing':
        return undefined;
      case 'nonce_too_low':
        throw providerError('Nonce too low', -32000, null);
      case 'unsupported':
        throw providerError('Method unsupported is not supported', -32004, { method, params });
      case 'revert':
        throw Object.assign(new Error('VM Exception while processing transaction: reverted'), {
          data: '0xe2517d3f',
          transactionHash: '0xabc',
        });
      default:
        throw new TypeError(`no ${method}`);
    }
  },
};

let server: JsonRpcHttpServer;
let url: string;

beforeAll(async () => {
  server = await serveJsonRpc(provider, { host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${server.address.port}`;
});
afterAll(() => server.close());

async function post(
  body: string,
  method = 'POST',
): Promise<{ status: number; headers: Headers; json: unknown }> {
  const res = await fetch(url, { method, ...(method === 'POST' ? { body } : {}) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}
const call = (method: string, params: unknown[] = [], id: unknown = 1) =>
  post(JSON.stringify({ jsonrpc: '2.0', id, method, params }));

describe('JSON-RPC over HTTP in front of an EIP-1193 provider', () => {
  it('answers a request with its id and result, as JSON with CORS headers', async () => {
    const res = await call('echo', ['a', 1], 'x-1');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.json).toEqual({ jsonrpc: '2.0', id: 'x-1', result: ['a', 1] });
  });

  it('answers a batch in order, each element on its own', async () => {
    const res = await post(
      JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'eth_chainId' },
        { jsonrpc: '2.0', id: 2, method: 'nonce_too_low', params: [] },
        { jsonrpc: '2.0', method: 'eth_chainId' },
        null,
      ]),
    );
    const invalid = { code: -32600, message: 'Invalid request', data: { message: 'Invalid request' } };
    expect(res.json).toEqual([
      { jsonrpc: '2.0', id: 1, result: '0x7a69' },
      {
        jsonrpc: '2.0',
        id: 2,
        error: { code: -32000, message: 'Nonce too low', data: { message: 'Nonce too low', data: null } },
      },
      { jsonrpc: '2.0', id: null, error: invalid },
      { jsonrpc: '2.0', id: null, error: invalid },
    ]);
    expect((await post('[]')).json).toEqual([]);
  });

  it('passes a provider error through: code, message and its data', async () => {
    expect((await call('unsupported', [7])).json).toEqual({
      jsonrpc: '2.0',
      id: 1,
      error: {
        code: -32004,
        message: 'Method unsupported is not supported',
        data: {
          message: 'Method unsupported is not supported',
          data: { method: 'unsupported', params: [7] },
        },
      },
    });
  });

  it('reports anything else as an internal error, with the revert data and transaction hash', async () => {
    const message = 'Error: VM Exception while processing transaction: reverted';
    expect((await call('revert')).json).toEqual({
      jsonrpc: '2.0',
      id: 1,
      error: { code: -32603, message, data: { message, txHash: '0xabc', data: '0xe2517d3f' } },
    });
    expect((await call('boom')).json).toMatchObject({
      id: 1,
      error: { code: -32603, message: 'TypeError: no boom' },
    });
    expect((await call('nothing')).json).toMatchObject({
      id: 1,
      error: { code: -32603, message: 'Internal error' },
    });
  });

  it('rejects what is not a JSON-RPC 2.0 request, and what is not JSON', async () => {
    for (const body of [
      { jsonrpc: '1.0', id: 1, method: 'eth_chainId' },
      { jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: {} },
      { jsonrpc: '2.0', id: 1 },
    ]) {
      expect((await post(JSON.stringify(body))).json).toMatchObject({ id: null, error: { code: -32600 } });
    }
    const parse = await post('{not json');
    expect(parse.status).toBe(200);
    expect(parse.json).toMatchObject({
      id: null,
      error: { code: -32700, message: expect.stringMatching(/^Parse error: /) },
    });
  });

  it('answers a CORS preflight with an empty 200', async () => {
    const res = await post('', 'OPTIONS');
    expect(res.status).toBe(200);
    expect(res.json).toBeUndefined();
    expect(res.headers.get('access-control-allow-methods')).toBe('OPTIONS, GET');
  });

  it('fails to start on a port in use with EADDRINUSE; the server there keeps serving', async () => {
    await expect(
      serveJsonRpc(provider, { host: '127.0.0.1', port: server.address.port }),
    ).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });
    expect((await call('eth_chainId')).json).toMatchObject({ result: '0x7a69' });
  });
});
