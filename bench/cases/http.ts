/**
 * Case 5, HTTP: GET /v1/records/:id/proofs and GET /v1/verify/:id (random anchored-final records)
 * under autocannon, 32 connections, against GET /healthz of the same instance in the same run.
 *
 * The server runs in its own process (src/server.ts, as `proofmark serve`) and autocannon in the bench
 * process: on 2 cores each gets one, and the load generator does not steal the server's event loop.
 *
 * Alone: `npx tsx bench/cases/http.ts [--quick] [--runs n] [--json-out file]`.
 */
import autocannon from 'autocannon';
import { apiOf, ingest, recordBodies, sealNow, verifiedMerchant, waitFinal } from '../lib/api.ts';
import { caseMain, type CaseOptions, type CaseReport, type Target } from '../lib/case.ts';
import { isMain } from '../lib/child.ts';
import { progress } from '../lib/log.ts';
import { load1 } from '../lib/machine.ts';
import { SERVER_LOG_LEVEL, startBenchServer, type BenchServer } from '../lib/server.ts';
import { Prng } from '../lib/prng.ts';
import { round, roundSummary, summarize, type Summary } from '../lib/stats.ts';
import { INGEST_ENV } from './ingest.ts';
import { num, spread, table } from '../lib/markdown.ts';

const CONNECTIONS = 32;
export const ENDPOINTS = ['healthz', 'proofs', 'verify'] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

export interface EndpointRun {
  endpoint: Endpoint;
  round: number;
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  requests: number;
  non2xx: number;
  errors: number;
  /** Server process CPU / wall time during the run (1.0 = one core busy). */
  serverCpuShare: number | null;
  /** Bench process (autocannon) CPU / wall time. */
  clientCpuShare: number;
  load: number;
}

export interface HttpResult {
  records: number;
  connections: number;
  durationSeconds: number;
  rounds: number;
  serverLogLevel: string;
  runs: EndpointRun[];
  byEndpoint: Record<Endpoint, { requestsPerSecond: Summary; latencyP99Ms: Summary }>;
  /** Per round: endpoint req/s over healthz req/s of that same round; then their medians. */
  ratios: { proofs: Summary; verify: Summary };
  notes: string[];
  targets: Target[];
}

export function pathFor(endpoint: Endpoint, ids: string[], prng: Prng): () => string {
  switch (endpoint) {
    case 'healthz':
      return () => '/healthz';
    case 'proofs':
      return () => `/v1/records/${ids[prng.int(ids.length)]}/proofs`;
    case 'verify':
      return () => `/v1/verify/${ids[prng.int(ids.length)]}`;
  }
}

export async function fire(
  server: BenchServer,
  endpoint: Endpoint,
  ids: string[],
  seconds: number,
  prng: Prng,
): Promise<autocannon.Result & { serverCpuShare: number | null; clientCpuShare: number }> {
  const next = pathFor(endpoint, ids, prng);
  const serverCpu0 = server.cpuMs();
  const clientCpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await autocannon({
    url: server.url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: next() }) }],
  });
  const wall = performance.now() - t0;
  const serverCpu1 = server.cpuMs();
  const client = process.cpuUsage(clientCpu0);
  return {
    ...result,
    serverCpuShare:
      serverCpu0 !== null && serverCpu1 !== null ? round((serverCpu1 - serverCpu0) / wall, 2) : null,
    clientCpuShare: round((client.user + client.system) / 1000 / wall, 2),
  };
}

export async function runHttp(opts: CaseOptions): Promise<HttpResult> {
  const records = opts.quick ? 5_000 : 20_000;
  const seconds = opts.quick ? 3 : 10;
  const rounds = opts.runs ?? (opts.quick ? 1 : 3);
  const server = await startBenchServer({ env: INGEST_ENV });
  const runs: EndpointRun[] = [];
  try {
    const apiKey = await verifiedMerchant(server);
    progress(`http: registering ${records.toLocaleString('en')} records, sealing, waiting for final`);
    const { ids } = await ingest(server, apiKey, recordBodies('http', records / 1000), 4);
    const [batch] = await sealNow(server);
    await waitFinal(server, batch!.id);

    // The paths answer what they should before they are loaded.
    const api = apiOf(server);
    const verdict = await api.verdict(ids[0]!);
    if (verdict.verdict !== 'genuine') throw new Error(`verify says ${verdict.verdict}`);
    const b = (await api.proofs(ids[1]!)).bundles[0];
    if (!b?.proof?.length || b.anchor.status !== 'final')
      throw new Error('proofs route returned no final proof');

    const prng = new Prng(0x477);
    for (const endpoint of ENDPOINTS) {
      progress(`http: warm-up ${endpoint}`);
      await fire(server, endpoint, ids, opts.quick ? 1 : 2, prng);
    }
    for (let r = 0; r < rounds; r++) {
      for (const endpoint of ENDPOINTS) {
        const load = load1();
        const res = await fire(server, endpoint, ids, seconds, prng);
        const ok = res['2xx'];
        const run: EndpointRun = {
          endpoint,
          round: r + 1,
          requestsPerSecond: round(ok / res.duration, 0),
          latencyP50Ms: res.latency.p50,
          latencyP99Ms: res.latency.p99,
          latencyMaxMs: res.latency.max,
          requests: res.requests.total,
          non2xx: res.non2xx,
          errors: res.errors,
          serverCpuShare: res.serverCpuShare,
          clientCpuShare: res.clientCpuShare,
          load,
        };
        progress(
          `http round ${r + 1}/${rounds} ${endpoint}: ${run.requestsPerSecond} req/s, p99 ${run.latencyP99Ms} ms` +
            ` (server CPU ${run.serverCpuShare}, client CPU ${run.clientCpuShare}, load ${load})`,
        );
        runs.push(run);
      }
    }
  } finally {
    await server.stop();
  }

  const of = (e: Endpoint) => runs.filter((r) => r.endpoint === e);
  const byEndpoint = Object.fromEntries(
    ENDPOINTS.map((e) => [
      e,
      {
        requestsPerSecond: roundSummary(summarize(of(e).map((r) => r.requestsPerSecond)), 0),
        latencyP99Ms: roundSummary(summarize(of(e).map((r) => r.latencyP99Ms)), 1),
      },
    ]),
  ) as HttpResult['byEndpoint'];
  const ratio = (e: Endpoint) =>
    roundSummary(
      summarize(
        of(e).map(
          (r) => r.requestsPerSecond / of('healthz').find((h) => h.round === r.round)!.requestsPerSecond,
        ),
      ),
      3,
    );
  const ratios = { proofs: ratio('proofs'), verify: ratio('verify') };
  const worstErrors = runs.reduce((a, r) => a + r.non2xx + r.errors, 0);
  const h = byEndpoint.healthz.requestsPerSecond.median;
  const fig = (e: 'proofs' | 'verify') =>
    `${byEndpoint[e].requestsPerSecond.median.toLocaleString('en')} req/s = ${ratios[e].median}x healthz (${h.toLocaleString('en')} req/s); ratio per round ${ratios[e].min}-${ratios[e].max}`;
  const p99s = ENDPOINTS.map((e) => `${e} ${byEndpoint[e].latencyP99Ms.median} ms`).join(', ');
  const worstP99 = Math.max(byEndpoint.proofs.latencyP99Ms.median, byEndpoint.verify.latencyP99Ms.median);
  return {
    records,
    connections: CONNECTIONS,
    durationSeconds: seconds,
    rounds,
    serverLogLevel: SERVER_LOG_LEVEL,
    runs,
    byEndpoint,
    ratios,
    notes: [
      `${records.toLocaleString('en')} records registered through the API, sealed into one batch and final before the load. ` +
        'Each proofs/verify request picks a random one of them (seeded).',
      `autocannon in the bench process, the server in its own process (LOG_LEVEL=${SERVER_LOG_LEVEL}: no per-request ` +
        'log lines; the default `info` logs two lines a request). Rounds run healthz, proofs, verify back to back, ' +
        `${seconds} s each, after a short warm-up of each; ratios compare endpoints within the same round.`,
      'Every verify request counts a scan: one upsert into `scans`, committed with synchronous=FULL.',
      `Non-2xx responses and socket errors over all runs: ${worstErrors}.`,
    ],
    targets: [
      {
        id: 'http-proofs',
        case: 'http',
        target: 'GET /v1/records/:id/proofs at least 0.3x healthz req/s',
        figure: fig('proofs'),
        pass: ratios.proofs.median >= 0.3,
      },
      {
        id: 'http-verify',
        case: 'http',
        target: 'GET /v1/verify/:id at least 0.2x healthz req/s',
        figure: fig('verify'),
        pass: ratios.verify.median >= 0.2,
      },
      {
        id: 'http-p99',
        case: 'http',
        target: 'p99 latency under 25 ms (proofs and verify, 32 connections)',
        figure: `p99 medians: ${p99s}`,
        pass: worstP99 < 25,
      },
    ],
  };
}

/** The report's section: each endpoint against /healthz, then every round's figures. */
export const httpReport: CaseReport<HttpResult> = {
  title: 'HTTP',
  section: (r) =>
    [
      `${r.connections} connections, ${r.durationSeconds} s per run, ${r.rounds} round(s); ${num(r.records)} final records.`,
      '',
      table(
        ['endpoint', 'req/s', 'p99 ms', 'x healthz'],
        ENDPOINTS.map((e) => [
          e,
          spread(r.byEndpoint[e].requestsPerSecond),
          spread(r.byEndpoint[e].latencyP99Ms, 1),
          e === 'healthz' ? '1' : spread(r.ratios[e], 3),
        ]),
      ),
      '',
      table(
        [
          'round',
          'endpoint',
          'req/s',
          'p50 ms',
          'p99 ms',
          'max ms',
          'non-2xx + errors',
          'server CPU',
          'client CPU',
          'load',
        ],
        r.runs.map((x) => [
          String(x.round),
          x.endpoint,
          num(x.requestsPerSecond),
          num(x.latencyP50Ms),
          num(x.latencyP99Ms),
          num(x.latencyMaxMs),
          String(x.non2xx + x.errors),
          num(x.serverCpuShare, 2),
          num(x.clientCpuShare, 2),
          num(x.load, 2),
        ]),
      ),
      '',
      ...r.notes.map((x) => `- ${x}`),
      ...(r.runs.some((x) => x.endpoint === 'healthz' && x.clientCpuShare > 0.85)
        ? [
            '- During healthz both autocannon and the server used about one core each: healthz req/s is the ceiling of ' +
              'this 2-core machine with load generator and server on it, so the ratios are if anything generous.',
          ]
        : []),
    ].join('\n'),
};

if (isMain(import.meta.url)) await caseMain(runHttp);
