/**
 * A real HTTP proxy in front of a JSON-RPC endpoint that a test switches between behaviours, so the
 * service meets an unreliable RPC over the network exactly as it would in production:
 *   up         forwards every request;
 *   down       closes the listening socket and every open connection (clients get ECONNREFUSED or
 *              ECONNRESET); `up()` listens again on the SAME port, so the service's URL stays valid;
 *   slow(ms)   forwards, but holds each answer back for `ms`;
 *   hang       accepts requests and never answers them (until the mode changes: then they are cut);
 *   error(k)   answers as a failing load balancer (HTTP 502/503 with an HTML page) or node would
 *              (a JSON-RPC error object: -32603 internal error, -32005 rate limited).
 * Every request that reaches it is counted per JSON-RPC method, batches included, whatever the mode,
 * and the block range of every eth_getLogs is kept (public RPCs cap it).
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type RpcErrorKind = 'http-502' | 'http-503' | 'rpc-internal' | 'rpc-rate-limited';

type Mode =
  | { name: 'up' }
  | { name: 'down' }
  | { name: 'slow'; ms: number }
  | { name: 'hang' }
  | { name: 'error'; kind: RpcErrorKind };

export interface RpcProxy {
  /** The proxy's URL: give it to the service as RPC_URL. */
  readonly url: string;
  /** The current mode, for messages. */
  readonly mode: string;
  /** How many requests for `method` reached the proxy (answered, failed or hung). */
  count(method: string): number;
  /** Requests per method so far. */
  counts(): Record<string, number>;
  /** The fromBlock and toBlock of every eth_getLogs so far, as sent. */
  logRanges(): Array<{ fromBlock: unknown; toBlock: unknown }>;
  up(): Promise<void>;
  down(): Promise<void>;
  slow(ms: number): Promise<void>;
  hang(): Promise<void>;
  error(kind: RpcErrorKind): Promise<void>;
  close(): Promise<void>;
}

interface RpcCall {
  id?: unknown;
  method?: unknown;
  params?: unknown;
}

const BAD_GATEWAY_PAGE =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n';
const UNAVAILABLE_PAGE =
  '<html><body><h1>503 Service Temporarily Unavailable</h1><p>No server is available to handle this request.</p></body></html>';

export async function startRpcProxy(targetUrl: string): Promise<RpcProxy> {
  const target = new URL(targetUrl);
  const counts = new Map<string, number>();
  const logRanges: Array<{ fromBlock: unknown; toBlock: unknown }> = [];
  const sockets = new Set<Socket>();
  /** Requests held in `hang` (or still waiting out `slow`): cut when the mode changes. */
  const held = new Set<ServerResponse>();
  let mode: Mode = { name: 'up' };

  const server = createServer((req, res) => {
    void handle(req, res).catch(() => res.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const calls = parseCalls(body);
    for (const call of calls) {
      const method = typeof call.method === 'string' ? call.method : '(unparsed)';
      counts.set(method, (counts.get(method) ?? 0) + 1);
      if (method === 'eth_getLogs' && Array.isArray(call.params)) {
        const filter = (call.params[0] ?? {}) as { fromBlock?: unknown; toBlock?: unknown };
        logRanges.push({ fromBlock: filter.fromBlock, toBlock: filter.toBlock });
      }
    }
    const now = mode;
    switch (now.name) {
      case 'down': // a request that slipped in as the proxy went down
        res.destroy();
        return;
      case 'hang':
        held.add(res);
        res.once('close', () => held.delete(res));
        return;
      case 'error':
        answerError(res, now.kind, body, calls);
        return;
      case 'slow': {
        held.add(res);
        res.once('close', () => held.delete(res));
        const answer = await forward(body, req.headers['content-type']);
        await new Promise((r) => setTimeout(r, now.ms));
        held.delete(res);
        if (!res.destroyed) res.writeHead(answer.status, answer.headers).end(answer.body);
        return;
      }
      case 'up': {
        const answer = await forward(body, req.headers['content-type']);
        res.writeHead(answer.status, answer.headers).end(answer.body);
        return;
      }
    }
  }

  function forward(
    body: Buffer,
    contentType: string | undefined,
  ): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const upstream = httpRequest(
        target,
        { method: 'POST', headers: { 'content-type': contentType ?? 'application/json' } },
        (answer) => {
          readBody(answer).then(
            (data) =>
              resolve({
                status: answer.statusCode ?? 502,
                headers: { 'content-type': answer.headers['content-type'] ?? 'application/json' },
                body: data,
              }),
            reject,
          );
        },
      );
      upstream.once('error', reject);
      upstream.end(body);
    });
  }

  async function listen(port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  /** Stops listening and cuts every connection, held requests included. */
  async function unlisten(): Promise<void> {
    if (!server.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  }

  /** A new mode; requests held by the old one (hang, slow) are cut, as a restarted proxy would. */
  async function switchTo(next: Mode): Promise<void> {
    mode = next;
    for (const res of held) res.destroy();
    held.clear();
    if (next.name === 'down') await unlisten();
    else if (!server.listening) await listen(port);
  }

  const port = await listen(0);
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    get mode() {
      return mode.name === 'slow'
        ? `slow(${mode.ms})`
        : mode.name === 'error'
          ? `error(${mode.kind})`
          : mode.name;
    },
    count: (method) => counts.get(method) ?? 0,
    counts: () => Object.fromEntries(counts),
    logRanges: () => [...logRanges],
    up: () => switchTo({ name: 'up' }),
    down: () => switchTo({ name: 'down' }),
    slow: (ms) => switchTo({ name: 'slow', ms }),
    hang: () => switchTo({ name: 'hang' }),
    error: (kind) => switchTo({ name: 'error', kind }),
    async close() {
      mode = { name: 'down' };
      for (const res of held) res.destroy();
      await unlisten();
    },
  };
}

function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

/** The JSON-RPC calls in a request body: one object, or a batch (an array); none if it is not JSON. */
function parseCalls(body: Buffer): RpcCall[] {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    const list = Array.isArray(parsed) ? parsed : [parsed];
    return list.filter((c): c is RpcCall => typeof c === 'object' && c !== null);
  } catch {
    return [{ method: '(not json)' }];
  }
}

function answerError(res: ServerResponse, kind: RpcErrorKind, body: Buffer, calls: RpcCall[]): void {
  if (kind === 'http-502' || kind === 'http-503') {
    const status = kind === 'http-502' ? 502 : 503;
    res
      .writeHead(status, { 'content-type': 'text/html' })
      .end(status === 502 ? BAD_GATEWAY_PAGE : UNAVAILABLE_PAGE);
    return;
  }
  const error =
    kind === 'rpc-rate-limited'
      ? { code: -32005, message: 'rate limited: too many requests, retry later' }
      : { code: -32603, message: 'internal error' };
  const answer = (call: RpcCall) => ({ jsonrpc: '2.0', id: call.id ?? null, error });
  const isBatch = body.toString('utf8').trimStart().startsWith('[');
  const payload = isBatch ? calls.map(answer) : answer(calls[0] ?? {});
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
}
