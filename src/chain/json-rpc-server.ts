/**
 * A JSON-RPC 2.0 over HTTP server in front of an EIP-1193 provider: what `hardhat node` serves, on
 * node:http alone. Responses are shaped as Hardhat's own server shapes them (error codes, messages,
 * `error.data` with the revert data and transaction hash, ids, CORS headers), because ethers reads a
 * revert's data and the service reads node messages ("nonce too low", "insufficient funds") from them.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The part of an EIP-1193 provider the server uses. */
export interface Eip1193Provider {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

export interface JsonRpcHttpServer {
  address: AddressInfo;
  /** Stops accepting connections and resolves once the open ones are done. */
  close(): Promise<void>;
}

type Id = string | number | null;

interface JsonRpcResponse {
  jsonrpc: '2.0';
  id: Id;
  result?: unknown;
  error?: { code: number; message: string; data: Record<string, unknown> };
}

const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;
const INTERNAL_ERROR = -32603;

/**
 * Serves `provider` on host:port (0 = any free port). Resolves once listening; rejects with the
 * listen error (EADDRINUSE, EACCES...) and leaves nothing open when it cannot listen.
 */
export function serveJsonRpc(
  provider: Eip1193Provider,
  opts: { host: string; port: number },
): Promise<JsonRpcHttpServer> {
  const server = createServer((req, res) => {
    // Nothing a client sends may take the process down: a response that cannot be written is dropped.
    handle(provider, req, res).catch(() => res.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve({
        address: server.address() as AddressInfo,
        close: () => new Promise((done, fail) => server.close((err) => (err ? fail(err) : done()))),
      });
    });
  });
}

async function handle(provider: Eip1193Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Request-Method', '*');
  res.setHeader('Access-Control-Allow-Methods', 'OPTIONS, GET');
  res.setHeader('Access-Control-Allow-Headers', '*');
  if (req.method === 'OPTIONS') {
    res.writeHead(200).end();
    return;
  }
  let body: unknown;
  try {
    body = JSON.parse(await readBody(req));
  } catch (err) {
    if (res.destroyed) return;
    send(res, failure(null, PARSE_ERROR, `Parse error: ${(err as Error).message}`));
    return;
  }
  send(
    res,
    Array.isArray(body)
      ? await Promise.all(body.map((one) => answer(provider, one)))
      : await answer(provider, body),
  );
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, payload: JsonRpcResponse | JsonRpcResponse[]): void {
  if (res.destroyed) return;
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(payload));
}

/** One request's response. An invalid request is answered with id null, as Hardhat does. */
async function answer(provider: Eip1193Provider, request: unknown): Promise<JsonRpcResponse> {
  if (!isValidRequest(request)) return failure(null, INVALID_REQUEST, 'Invalid request');
  try {
    const result = await provider.request({ method: request.method, params: request.params });
    if (result === undefined) return failure(request.id, INTERNAL_ERROR, 'Internal error');
    return { jsonrpc: '2.0', id: request.id, result };
  } catch (err) {
    return errorResponse(request.id, err);
  }
}

function isValidRequest(x: unknown): x is { id: string | number; method: string; params?: unknown[] } {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  return (
    r.jsonrpc === '2.0' &&
    (typeof r.id === 'number' || typeof r.id === 'string') &&
    typeof r.method === 'string' &&
    (r.params === undefined || Array.isArray(r.params))
  );
}

function failure(id: Id, code: number, message: string): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error: { code, message, data: { message } } };
}

/**
 * A provider error (EIP-1193: a numeric `code`) keeps its code and message; anything else, such as
 * Hardhat's Solidity stack-trace errors for reverts, is an internal error worded as `String(err)`.
 * `data.data` carries the revert data and `data.txHash` the transaction that failed, if any.
 */
function errorResponse(id: Id, err: unknown): JsonRpcResponse {
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    code?: unknown;
    message?: unknown;
    data?: { data?: unknown; transactionHash?: unknown } | null;
    transactionHash?: unknown;
  };
  const isProviderError = typeof e.code === 'number';
  const message = isProviderError ? String(e.message) : String(err);
  const response = failure(id, isProviderError ? (e.code as number) : INTERNAL_ERROR, message);
  const txHash = e.transactionHash !== undefined ? e.transactionHash : e.data?.transactionHash;
  if (txHash !== undefined) response.error!.data.txHash = txHash;
  if (e.data !== undefined) response.error!.data.data = e.data?.data !== undefined ? e.data.data : e.data;
  return response;
}
