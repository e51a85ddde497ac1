/**
 * Case 3, ingest: records per second through POST /v1/records, 1,000 records a request, 4 clients at
 * once, real HTTP to a server in its own process (src/server.ts on a fresh temporary DATA_DIR, embedded
 * SQLite with WAL and synchronous=FULL, development chain). The batcher runs, as in production, but
 * BATCH_MAX_AGE_MS and BATCH_MAX_LEAVES keep it from sealing, so this is ingest alone.
 *
 * Alone: `npx tsx bench/cases/ingest.ts [--quick] [--json-out file]`.
 */
import SQLite from 'better-sqlite3';
import { cpus } from 'node:os';
import { ingest, recordBodies, verifiedMerchant } from '../lib/api.ts';
import { caseMain, type CaseOptions, type CaseReport, type Target } from '../lib/case.ts';
import { isMain } from '../lib/child.ts';
import { progress } from '../lib/log.ts';
import { load1 } from '../lib/machine.ts';
import { SERVER_LOG_LEVEL, startBenchServer } from '../lib/server.ts';
import { latency, round, roundSummary, summarize, type Latency, type Summary } from '../lib/stats.ts';
import { num, spread, table } from '../lib/markdown.ts';

export const INGEST_ENV = { BATCH_MAX_AGE_MS: '86400000', BATCH_MAX_LEAVES: '1000000' };
const PER_REQUEST = 1000;
const CONCURRENCY = 4;

export interface IngestRun {
  requests: number;
  records: number;
  wallMs: number;
  recordsPerSecond: number;
  requestLatencyMs: Latency;
  /** Server process CPU time (all threads) during the timed requests, per record, in microseconds. */
  serverCpuUsPerRecord: number | null;
  /** Server CPU time / wall time: about 1.0 when one core is saturated; well under when it waits or is starved. */
  serverCpuShare: number | null;
  /** Records found in the database after the run (read from the SQLite file). */
  storedRecords: number;
  storedEvents: number;
  batchesSealedDuringRun: number;
  loadBefore: number;
  loadAfter: number;
}

export interface IngestResult {
  setup: Record<string, string | number>;
  runs: IngestRun[];
  recordsPerSecond: Summary;
  notes: string[];
  targets: Target[];
}

export async function runIngest(opts: CaseOptions): Promise<IngestResult> {
  const requests = opts.quick ? 20 : 60;
  const runsWanted = opts.runs ?? 3;
  const runs: IngestRun[] = [];
  for (let run = 0; run < runsWanted; run++) {
    // A fresh instance each run: the same empty database, so runs are comparable.
    const server = await startBenchServer({ env: INGEST_ENV });
    try {
      const apiKey = await verifiedMerchant(server);
      const bodies = recordBodies(`ingest${run}`, requests, PER_REQUEST);
      // Warm-up outside the measurement: one small request compiles the route's schemas and paths.
      await ingest(server, apiKey, recordBodies(`warm${run}`, 1, 10), 1);
      const loadBefore = load1();
      const cpuBefore = server.cpuMs();
      progress(
        `ingest run ${run + 1}/${runsWanted}: ${requests} x ${PER_REQUEST} records, ${CONCURRENCY} clients`,
      );
      const out = await ingest(server, apiKey, bodies, CONCURRENCY);
      const cpuAfter = server.cpuMs();
      const cpuMs = cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null;
      const loadAfter = load1();
      const db = new SQLite(server.dbFile, { readonly: true });
      const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
      const storedRecords = count('select count(*) as n from records');
      const storedEvents = count('select count(*) as n from events');
      const batches = count('select count(*) as n from batches');
      db.close();
      const expected = requests * PER_REQUEST + 10;
      if (storedRecords !== expected)
        throw new Error(`stored ${storedRecords} records, expected ${expected}`);
      const rps = out.records / (out.wallMs / 1000);
      progress(
        `ingest run ${run + 1}: ${Math.round(rps)} records/s` +
          (cpuMs !== null ? `, server CPU ${Math.round((cpuMs * 1000) / out.records)} us/record` : ''),
      );
      runs.push({
        requests,
        records: out.records,
        wallMs: round(out.wallMs, 1),
        recordsPerSecond: round(rps, 0),
        requestLatencyMs: latencyRounded(latency(out.requestMs)),
        serverCpuUsPerRecord: cpuMs !== null ? round((cpuMs * 1000) / out.records, 1) : null,
        serverCpuShare: cpuMs !== null ? round(cpuMs / out.wallMs, 2) : null,
        storedRecords,
        storedEvents,
        batchesSealedDuringRun: batches,
        loadBefore,
        loadAfter,
      });
    } finally {
      await server.stop();
    }
  }
  const rps = roundSummary(summarize(runs.map((r) => r.recordsPerSecond)), 0);
  const cores = cpus().length;
  return {
    setup: {
      requestsPerRun: requests,
      recordsPerRequest: PER_REQUEST,
      concurrentClients: CONCURRENCY,
      serverLogLevel: SERVER_LOG_LEVEL,
      batchMaxLeaves: INGEST_ENV.BATCH_MAX_LEAVES,
      batchMaxAgeMs: INGEST_ENV.BATCH_MAX_AGE_MS,
    },
    runs,
    recordsPerSecond: rps,
    notes: [
      'Server in its own process (src/server.ts, as `proofmark serve`), clients in the bench process: on 2 cores the ' +
        'client (sending pre-serialised bodies, reading replies) does not share the server event loop.',
      'Each record carries a secret (hashed to a salted commitment) and 4 metadata fields, like a licence key sale. ' +
        'Each run starts a fresh instance; a 10-record warm-up request precedes the timed requests.',
      'A 201 is sent after the transaction commits with synchronous=FULL in WAL mode; the bench counts the rows in ' +
        'the database file after each run.',
    ],
    targets: [
      {
        id: 'ingest',
        case: 'ingest',
        target: `at least 20,000 records/s on 2 cores (this machine: ${cores} cores)`,
        figure: `${rps.median.toLocaleString('en')} records/s (median of ${rps.n} runs, min ${rps.min.toLocaleString('en')}, max ${rps.max.toLocaleString('en')})`,
        pass: rps.median >= 20_000,
      },
    ],
  };
}

function latencyRounded(l: Latency): Latency {
  return {
    n: l.n,
    p50: round(l.p50, 1),
    p95: round(l.p95, 1),
    p99: round(l.p99, 1),
    max: round(l.max, 1),
    mean: round(l.mean, 1),
  };
}

/** The report's section: every run's rate, latency and server CPU; the ceiling at a whole core. */
export const ingestReport: CaseReport<IngestResult> = {
  title: 'Ingest',
  section: (r) =>
    [
      `${r.setup.requestsPerRun} requests x ${r.setup.recordsPerRequest} records, ${r.setup.concurrentClients} concurrent clients, ` +
        `BATCH_MAX_LEAVES=${r.setup.batchMaxLeaves}, BATCH_MAX_AGE_MS=${r.setup.batchMaxAgeMs}, LOG_LEVEL=${r.setup.serverLogLevel}.`,
      '',
      table(
        [
          'run',
          'records/s',
          'wall ms',
          'request ms p50 / p99',
          'server CPU us/record',
          'records/s at one whole core',
          'server CPU share',
          'stored records / events',
          'batches sealed',
          'load',
        ],
        r.runs.map((x, i) => [
          String(i + 1),
          num(x.recordsPerSecond),
          num(x.wallMs),
          `${num(x.requestLatencyMs.p50)} / ${num(x.requestLatencyMs.p99)}`,
          num(x.serverCpuUsPerRecord, 1),
          num(x.serverCpuUsPerRecord ? 1e6 / x.serverCpuUsPerRecord : null),
          num(x.serverCpuShare, 2),
          `${num(x.storedRecords)} / ${num(x.storedEvents)}`,
          String(x.batchesSealedDuringRun),
          `${x.loadBefore} -> ${x.loadAfter}`,
        ]),
      ),
      '',
      `**${spread(r.recordsPerSecond)} records/s** (median (min-max, runs)).`,
      '',
      ...r.notes.map((x) => `- ${x}`),
      '- "Records/s at one whole core" = 1,000,000 / server CPU us per record: what the server would reach if nothing else ' +
        'competed for its core (its work is single-threaded: better-sqlite3 runs on the event loop). A server CPU share ' +
        'under 1.0 while requests queue means other processes took part of its core.',
    ].join('\n'),
  /** The ingest target's line also says what the server would reach with a whole core to itself. */
  targetExtra: (t, r) => {
    if (t.id !== 'ingest') return '';
    const cpu = r.runs.map((x) => x.serverCpuUsPerRecord).filter((x): x is number => x !== null);
    if (!cpu.length) return '';
    const mid = [...cpu].sort((a, b) => a - b)[Math.floor(cpu.length / 2)]!;
    return `; the server spends ${num(mid)} us of CPU per record, so even with a whole core to itself it would reach about ${num(1e6 / mid)} records/s`;
  },
};

if (isMain(import.meta.url)) await caseMain(runIngest);
