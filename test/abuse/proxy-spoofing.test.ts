/**
 * Issue 13, attack 7: behind a proxy the limits vanished. TRUST_PROXY=true takes the leftmost
 * X-Forwarded-For entry, which the client writes, and proxies that append (nginx's
 * $proxy_add_x_forwarded_for, AWS ALB) pass it on, so every request could choose its own address.
 * Replayed over sockets: a small appending proxy in front of the app, clients on 127.0.0.2 and
 * 127.0.0.3 that forge a new X-Forwarded-For on every request, and the verdict limit at 5 a minute.
 * With TRUST_PROXY as a hop count (1) or as the proxy's address, the client is read from the right
 * and the forgeries buy nothing; `true`, kept for proxies that overwrite the header, is shown doing
 * what the issue found. Bypassing the proxy, the address list still ignores the header.
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrustProxy } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { recordBody } from '../helpers/records.ts';

const LIMIT = 5;

let h: Harness;
let recordId: string;
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  h = await startHarness({ startBatcher: false, env: { RATE_LIMIT_VERIFY_PER_MINUTE: String(LIMIT) } });
  const { apiKey } = await h.verifiedMerchant('Proxied Shop');
  const res = await h.call('POST', '/v1/records', { token: apiKey, body: { records: [recordBody('px-1')] } });
  recordId = res.json().records[0].id;
}, 120_000);
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await h?.close();
});

const portOf = (server: Server) => (server.address() as AddressInfo).port;

/** The app on a port of its own, trusting proxies as `trustProxy` says. */
async function appTrusting(trustProxy: TrustProxy): Promise<number> {
  const app: FastifyInstance = await buildApp({ ...h.runtime.services, trustProxy });
  await app.listen({ port: 0, host: '127.0.0.1' });
  closers.push(() => app.close());
  return portOf(app.server);
}

/** A proxy that appends the address it sees to X-Forwarded-For, as nginx and AWS ALB do. */
async function appendingProxy(upstreamPort: number): Promise<number> {
  const proxy = createServer((req, res) => {
    const seen = req.socket.remoteAddress!;
    const forwarded = req.headers['x-forwarded-for'];
    const headers: IncomingHttpHeaders = {
      ...req.headers,
      'x-forwarded-for': forwarded ? `${String(forwarded)}, ${seen}` : seen,
    };
    const upstream = request(
      { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => proxy.close(resolve)));
  return portOf(proxy);
}

let forgery = 0;
/** GET /v1/verify/:id from `localAddress` to `port`, with a new forged X-Forwarded-For each time. */
function verdictFrom(localAddress: string, port: number): Promise<number> {
  forgery++;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        localAddress,
        path: `/v1/verify/${recordId}`,
        headers: { 'x-forwarded-for': `203.0.113.${forgery % 250}, 198.51.100.${forgery % 250}` },
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** How many of `n` forged requests from `localAddress` were answered 200 (the rest 429). */
async function answered(localAddress: string, port: number, n = 2 * LIMIT): Promise<number> {
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const status = await verdictFrom(localAddress, port);
    expect([200, 429]).toContain(status);
    if (status === 200) ok++;
  }
  return ok;
}

describe('a forged X-Forwarded-For behind an appending proxy (issue 13, attack 7)', () => {
  it.each([
    ['TRUST_PROXY=1 (one hop)', 1 as TrustProxy],
    ['TRUST_PROXY=127.0.0.1 (the proxy by address)', ['127.0.0.1'] as TrustProxy],
    ['TRUST_PROXY=127.0.0.1/32 (the proxy by CIDR)', ['127.0.0.1/32'] as TrustProxy],
  ])('%s: the client is read from the right; forging buys no budget', async (what, setting) => {
    const via = await appendingProxy(await appTrusting(setting));
    const first = await answered('127.0.0.2', via);
    const other = await answered('127.0.0.3', via);
    console.log(
      `${what}: ${first} of ${2 * LIMIT} forged requests answered (limit ${LIMIT}); another client: ${other}`,
    );
    expect(first).toBe(LIMIT);
    // Counted per real client, not all together.
    expect(other).toBe(LIMIT);
  });

  it('TRUST_PROXY=true, kept for proxies that overwrite the header, is what the issue found', async () => {
    const via = await appendingProxy(await appTrusting(true));
    const ok = await answered('127.0.0.2', via);
    console.log(`TRUST_PROXY=true behind an appending proxy: ${ok} of ${2 * LIMIT} forged requests answered`);
    expect(ok).toBe(2 * LIMIT);
  });

  it('bypassing the proxy: trusted by address, the header of a direct client is ignored', async () => {
    const direct = await appTrusting(['127.0.0.1']);
    const ok = await answered('127.0.0.2', direct);
    console.log(`direct to the app, TRUST_PROXY=127.0.0.1: ${ok} of ${2 * LIMIT} forged requests answered`);
    expect(ok).toBe(LIMIT);
  });
});
