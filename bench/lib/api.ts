/** A small JSON client for the proofmark API, and the fixtures cases build through it. */
import type { BenchServer } from './server.ts';

export async function call<T = unknown>(
  server: BenchServer,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; rawBody?: string; expect?: number[] } = {},
): Promise<{ status: number; json: T }> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.url}${path}`, { method, headers, body });
  const text = await res.text();
  const expect = opts.expect ?? [200, 201];
  if (!expect.includes(res.status)) {
    throw new Error(`${method} ${path}: HTTP ${res.status}: ${text.slice(0, 500)}`);
  }
  return { status: res.status, json: (text ? JSON.parse(text) : null) as T };
}

/** A merchant admitted and verified through the API; returns its API key. */
export async function verifiedMerchant(server: BenchServer, name = 'Bench Merchant'): Promise<string> {
  const created = await call<{ id: string; apiKey: string }>(server, 'POST', '/v1/merchants', {
    token: server.adminToken,
    body: { name },
    expect: [201],
  });
  await call(server, 'POST', `/v1/merchants/${created.json.id}/verify`, {
    token: server.adminToken,
    body: { evidence: [{ description: 'publisher reseller letter', sha256: 'ab'.repeat(32) }] },
    expect: [200],
  });
  return created.json.apiKey;
}

/** Request bodies of `perRequest` realistic licence records each, serialised ahead of time. */
export function recordBodies(prefix: string, requests: number, perRequest = 1000): string[] {
  const bodies: string[] = [];
  for (let r = 0; r < requests; r++) {
    const records = [];
    for (let i = 0; i < perRequest; i++) {
      const n = r * perRequest + i;
      records.push({
        externalId: `${prefix}-${n}`,
        kind: 'licence',
        sku: `SKU-GAME-${n % 97}`,
        productName: 'Stellar Frontier: Deluxe Edition (PC, global key)',
        serial: `SN-${prefix}-${n.toString(36).padStart(8, '0')}`,
        secret: `XKCD-${n.toString(16).padStart(5, '0')}-ABCDE-FGHIJ-KLMNO`,
        metadata: { region: 'EU', platform: 'steam', edition: 'deluxe', orderLine: n % 5 },
      });
    }
    bodies.push(JSON.stringify({ records }));
  }
  return bodies;
}

export interface IngestOutcome {
  wallMs: number;
  records: number;
  ids: string[];
  requestMs: number[];
}

/** Sends every body with `concurrency` clients in parallel, each taking the next body when done. */
export async function ingest(
  server: BenchServer,
  apiKey: string,
  bodies: string[],
  concurrency: number,
): Promise<IngestOutcome> {
  let next = 0;
  const ids: string[] = [];
  const requestMs: number[] = [];
  const started = performance.now();
  const client = async () => {
    for (let i = next++; i < bodies.length; i = next++) {
      const t0 = performance.now();
      const res = await call<{ records: Array<{ id: string }> }>(server, 'POST', '/v1/records', {
        token: apiKey,
        rawBody: bodies[i]!,
        expect: [201],
      });
      requestMs.push(performance.now() - t0);
      for (const r of res.json.records) ids.push(r.id);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  return { wallMs: performance.now() - started, records: ids.length, ids, requestMs };
}

export interface BatchBody {
  id: number;
  status: string;
  leafCount: number;
  root: string;
  txHash: string | null;
}

/** Seals everything pending (one batch when BATCH_MAX_LEAVES allows) through the admin API. */
export async function sealNow(server: BenchServer): Promise<BatchBody[]> {
  const res = await call<{ batches: BatchBody[] }>(server, 'POST', '/v1/admin/batches/seal', {
    token: server.adminToken,
    expect: [200],
  });
  return res.json.batches;
}

/** Polls GET /v1/batches/:id every `everyMs` until final; returns when it saw it final. */
export async function waitFinal(
  server: BenchServer,
  batchId: number,
  opts: { everyMs?: number; timeoutMs?: number } = {},
): Promise<number> {
  const deadline = performance.now() + (opts.timeoutMs ?? 120_000);
  for (;;) {
    const res = await call<BatchBody>(server, 'GET', `/v1/batches/${batchId}`, { expect: [200] });
    if (res.json.status === 'final') return performance.now();
    if (performance.now() > deadline) throw new Error(`batch ${batchId} not final: ${res.json.status}`);
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 20));
  }
}
