/**
 * Issue 13, attack 4: slow and fat requests. Before, Fastify's request and connection limits were 0:
 * a connection that sent its headers and 1 byte of a 1,000-byte body stayed open 330 s, 100 such
 * connections with 4 MB bodies took the server from 334 to 564 MB, and /v1/records read and
 * validated a body before checking the key. Replayed over raw sockets against a real
 * `proofmark serve` with short limits (the defaults are in README): 100 connections at a time that
 * declare 4 MB bodies and send them slowly, or at full speed, with no key or with a valid one;
 * headers that never end; a keep-alive connection left idle. Each is answered and closed within its
 * limit, bodies refused at the key are never read, and resident memory stays flat.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { residentMb, startTarget, type Target } from './requests-target.ts';

const HEADERS_MS = 3000;
const REQUEST_MS = 6000;
const KEEP_ALIVE_MS = 3000;
/** Node checks the headers and request limits once a second (slow-clients.ts). */
const CHECK_MS = 1000;
const CONNECTIONS = 100;
const DECLARED = 4 * 1024 * 1024;

let target: Target;
let apiKey: string;

beforeAll(async () => {
  target = await startTarget(
    {
      HEADERS_TIMEOUT_MS: String(HEADERS_MS),
      REQUEST_TIMEOUT_MS: String(REQUEST_MS),
      KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_MS),
      RATE_LIMIT_MERCHANT_PER_MINUTE: '0',
    },
    'slow-requests',
  );
  ({ apiKey } = await target.merchant('Slow Shop'));
}, 120_000);
afterAll(async () => target?.close());

interface Outcome {
  /** The status of the answer, or null when the server closed without one. */
  status: number | null;
  /** The answer's JSON `code`, if it had one. */
  code: string | null;
  /** From connecting to the server closing the connection. */
  closedAfterMs: number;
}

/**
 * One connection: `head` (request line and headers, or part of them), then `burst` bytes at once,
 * then `trickle` bytes every `everyMs` until the server closes the connection (or `limitMs`).
 */
function slowRequest(
  head: string,
  opts: { burst?: number; trickle?: string; everyMs?: number; limitMs?: number } = {},
): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect(target.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {}); // EPIPE, ECONNRESET: the server hung up, as it should
    socket.once('close', () => {
      clearInterval(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({
        status: status ? Number(status[1]) : null,
        code: /"code":"([a-z_]+)"/.exec(text)?.[1] ?? null,
        closedAfterMs: performance.now() - started,
      });
    });
    socket.once('connect', () => {
      socket.write(head);
      if (opts.burst) socket.write(Buffer.alloc(opts.burst, 0x20));
      if (opts.trickle) {
        timer = setInterval(() => {
          if (!socket.destroyed) socket.write(opts.trickle!);
        }, opts.everyMs ?? 500);
      }
      setTimeout(() => socket.destroy(), opts.limitMs ?? 60_000).unref();
    });
  });
}

const recordsHead = (key?: string) =>
  'POST /v1/records HTTP/1.1\r\nHost: proofmark\r\nContent-Type: application/json\r\n' +
  `Content-Length: ${DECLARED}\r\n${key ? `Authorization: Bearer ${key}\r\n` : ''}\r\n`;

/** Resident memory sampled every 100 ms while `work` runs: before, the most during, and after. */
async function memoryAround<T>(
  work: () => Promise<T>,
): Promise<{ result: T; rss: { before: number; during: number; after: number } }> {
  const before = residentMb(target.pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, residentMb(target.pid))), 100);
  try {
    const result = await work();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const round = (mb: number) => Math.round(mb);
    return {
      result,
      rss: { before: round(before), during: round(peak), after: round(residentMb(target.pid)) },
    };
  } finally {
    clearInterval(sampler);
  }
}

const many = (n: number, one: () => Promise<Outcome>) => Promise.all(Array.from({ length: n }, one));
const slowest = (outcomes: Outcome[]) => Math.round(Math.max(...outcomes.map((o) => o.closedAfterMs)));

describe('slow and fat requests (issue 13, attack 4)', () => {
  it('100 slow 4 MB bodies without a key: 401 before the body is read, closed at once, memory flat', async () => {
    const { result, rss } = await memoryAround(() =>
      many(CONNECTIONS, () =>
        slowRequest(recordsHead(), { burst: 64 * 1024, trickle: 'x'.repeat(1024), everyMs: 200 }),
      ),
    );
    console.log(`no key, slow bodies: closed within ${slowest(result)} ms; RSS MB ${JSON.stringify(rss)}`);
    for (const o of result) expect(o).toMatchObject({ status: 401, code: 'unauthorized' });
    // Answered as soon as the headers are in: long before the request limit could apply.
    expect(slowest(result)).toBeLessThan(REQUEST_MS / 2);
    expect(rss.during - rss.before).toBeLessThan(40);
  }, 60_000);

  it('100 bodies of 4 MB at full speed without a key: answered 401 unread, never buffered', async () => {
    const { result, rss } = await memoryAround(() =>
      many(CONNECTIONS, () => slowRequest(recordsHead(), { burst: DECLARED })),
    );
    const answered = result.filter((o) => o.status === 401).length;
    console.log(
      `no key, 4 MB at once: ${answered} read their 401, the rest were reset; closed within ${slowest(result)} ms; ` +
        `RSS MB ${JSON.stringify(rss)}`,
    );
    // Closing a connection with unread bytes resets it, and a reset may overtake the 401 on its way
    // to a client still sending: either way, nothing but a 401 ever comes back, and nothing is read.
    for (const o of result) {
      if (o.status === null) expect(o.code).toBeNull();
      else expect(o).toMatchObject({ status: 401, code: 'unauthorized' });
    }
    // Buffered, 100 bodies would be 400 MB.
    expect(rss.during - rss.before).toBeLessThan(60);
  }, 60_000);

  it('100 slow 4 MB bodies with a valid key: 408 request_timeout within REQUEST_TIMEOUT_MS, memory back', async () => {
    const { result, rss } = await memoryAround(() =>
      many(CONNECTIONS, () =>
        slowRequest(recordsHead(apiKey), { burst: 64 * 1024, trickle: 'x', everyMs: 500 }),
      ),
    );
    console.log(
      `valid key, slow bodies: closed within ${slowest(result)} ms (limit ${REQUEST_MS}); RSS MB ${JSON.stringify(rss)}`,
    );
    for (const o of result) {
      expect(o).toMatchObject({ status: 408, code: 'request_timeout' });
      expect(o.closedAfterMs).toBeGreaterThan(REQUEST_MS - 100);
    }
    expect(slowest(result)).toBeLessThan(REQUEST_MS + CHECK_MS + 2000);
    expect(rss.during - rss.before).toBeLessThan(60);
  }, 60_000);

  it('100 requests whose headers never end: 408 within HEADERS_TIMEOUT_MS', async () => {
    const result = await many(CONNECTIONS, () =>
      slowRequest('GET /healthz HTTP/1.1\r\nHost: proofmark\r\n', { trickle: 'X-Slow: 1\r\n', everyMs: 500 }),
    );
    console.log(`endless headers: closed within ${slowest(result)} ms (limit ${HEADERS_MS})`);
    for (const o of result) expect(o).toMatchObject({ status: 408, code: 'request_timeout' });
    expect(slowest(result)).toBeLessThan(HEADERS_MS + CHECK_MS + 2000);
  }, 60_000);

  it('an idle keep-alive connection is closed after KEEP_ALIVE_TIMEOUT_MS (and the second Node adds)', async () => {
    const o = await slowRequest('GET /healthz HTTP/1.1\r\nHost: proofmark\r\nConnection: keep-alive\r\n\r\n');
    console.log(`idle keep-alive: closed after ${Math.round(o.closedAfterMs)} ms (limit ${KEEP_ALIVE_MS})`);
    expect(o.status).toBe(200);
    expect(o.closedAfterMs).toBeGreaterThan(KEEP_ALIVE_MS - 100);
    expect(o.closedAfterMs).toBeLessThan(KEEP_ALIVE_MS + 1000 + 2000);
  }, 30_000);

  it('serves as before afterwards', async () => {
    expect((await target.http('GET', '/healthz')).status).toBe(200);
  });
});
