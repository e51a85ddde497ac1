/** The benchmark's use of the API client, and the fixtures cases build through it. */
import { admitMerchant } from '../../src/client/admit.ts';
import { ApiClient, SerialisedJson } from '../../src/client/client.ts';
import { fetchTransport } from '../../src/client/transport.ts';
import type { Batch, RecordInput } from '../../src/client/types.ts';
import type { BenchServer } from './server.ts';

const EVIDENCE = [{ description: 'publisher reseller letter', sha256: 'ab'.repeat(32) }];

/** The client of a bench server, holding `token` when given; no request times out (a big seal may take long). */
export function apiOf(server: BenchServer, token?: string): ApiClient {
  return new ApiClient(server.url, {
    transport: fetchTransport(server.url, { timeoutMs: null }),
    ...(token !== undefined && { token }),
  });
}

/** A merchant admitted and verified through the API; returns its API key. */
export async function verifiedMerchant(server: BenchServer, name = 'Bench Merchant'): Promise<string> {
  const { apiKey } = await admitMerchant(apiOf(server, server.adminToken), { name }, EVIDENCE);
  return apiKey;
}

export type RecordsBody = SerialisedJson<{ records: RecordInput[] }>;

/** Request bodies of `perRequest` realistic licence records each, serialised ahead of time. */
export function recordBodies(prefix: string, requests: number, perRequest = 1000): RecordsBody[] {
  const bodies: RecordsBody[] = [];
  for (let r = 0; r < requests; r++) {
    const records: RecordInput[] = [];
    for (let i = 0; i < perRequest; i++) {
      const n = r * perRequest + i;
      records.push({
        externalId: `${prefix}-${n}`,
        kind: 'licence',
        sku: `SKU-GAME-${n % 97}`,
        productName: 'Stellar Frontier: Deluxe Edition (PC, global key)',
        serial: `SN-${prefix}-${n.toString(36).padStart(8, '0')}`,
        // The prefix too: one key, one sale, so another body's record never repeats this key.
        secret: `XKCD-${n.toString(16).padStart(5, '0')}-${prefix}-FGHIJ-KLMNO`,
        metadata: { region: 'EU', platform: 'steam', edition: 'deluxe', orderLine: n % 5 },
      });
    }
    bodies.push(new SerialisedJson({ records }));
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
  bodies: RecordsBody[],
  concurrency: number,
): Promise<IngestOutcome> {
  const api = apiOf(server, apiKey);
  let next = 0;
  const ids: string[] = [];
  const requestMs: number[] = [];
  const started = performance.now();
  const client = async () => {
    for (let i = next++; i < bodies.length; i = next++) {
      const t0 = performance.now();
      const res = await api.registerRecords(bodies[i]!);
      // Every body holds new records: a replay (HTTP 200) would measure nothing.
      if (!res.created) throw new Error('POST /v1/records: HTTP 200: these records were registered before');
      requestMs.push(performance.now() - t0);
      for (const r of res.records) ids.push(r.id);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  return { wallMs: performance.now() - started, records: ids.length, ids, requestMs };
}

/** Seals everything pending (one batch when BATCH_MAX_LEAVES allows) through the admin API. */
export async function sealNow(server: BenchServer): Promise<Batch[]> {
  return (await apiOf(server, server.adminToken).sealNow()).batches;
}

/** Polls GET /v1/batches/:id every `everyMs` until final; returns when it saw it final. */
export async function waitFinal(
  server: BenchServer,
  batchId: number,
  opts: { everyMs?: number; timeoutMs?: number } = {},
): Promise<number> {
  const api = apiOf(server);
  const deadline = performance.now() + (opts.timeoutMs ?? 120_000);
  for (;;) {
    const batch = await api.batch(batchId);
    if (batch.status === 'final') return performance.now();
    if (performance.now() > deadline) throw new Error(`batch ${batchId} not final: ${batch.status}`);
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 20));
  }
}
