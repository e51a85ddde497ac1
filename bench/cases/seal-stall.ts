/**
 * Case: what a large seal costs the API while it serves. A server process (SQLite, then PostgreSQL)
 * holds 950,000 waiting records (quick: 100,000), written into its database through the stores before
 * it starts (registering them through the API would take minutes); with those its baseline's load
 * registers, the seal is about a million leaves. With 2 clients registering 100-record requests and
 * one polling /healthz back to back, an admin seal of them all runs. Measured from outside: the
 * seal's time and every request's latency during it, against the same load for the same time with no
 * seal (the baseline, same run). Measured inside: the server's
 * own event-loop delay (perf_hooks monitorEventLoopDelay, through prom-client's
 * nodejs_eventloop_lag_max_seconds, scraped from /metrics every 250 ms: the max since the last
 * scrape). Target: no stall over 50 ms.
 *
 * Alone: `npx tsx bench/cases/seal-stall.ts [--quick] [--json-out file]` (PostgreSQL on
 * 127.0.0.1:5432, user postgres, or BENCH_POSTGRES_URL; skipped with a note when unreachable).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { bytesToHex, ZERO32 } from '../../src/core/index.ts';
import type { EventRow, RecordRow } from '../../src/storage/rows.ts';
import { openStorage } from '../../src/storage/sql/open.ts';
import { apiOf, recordBodies, sealNow, verifiedMerchant, type RecordsBody } from '../lib/api.ts';
import { caseMain, type CaseOptions, type CaseReport, type Target } from '../lib/case.ts';
import { isMain } from '../lib/child.ts';
import { progress } from '../lib/log.ts';
import { load1 } from '../lib/machine.ts';
import { Prng } from '../lib/prng.ts';
import { num, table } from '../lib/markdown.ts';
import { startBenchServer, type BenchServer } from '../lib/server.ts';
import type { Batch } from '../../src/client/types.ts';
import { latency, round, type Latency } from '../lib/stats.ts';

const SCRAPE_MS = 250;
const STALL_TARGET_MS = 50;
const POSTGRES_ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface LoadWindow {
  ms: number;
  /** Registration requests of 100 records answered in the window, and their latency. */
  ingest: Latency | null;
  /** /healthz polled back to back: the longest gap a client saw. */
  healthz: Latency | null;
  /** The server's event-loop delay: the largest of the per-scrape maxima, and how many scrapes saw over 50 ms. */
  loopMaxMs: number;
  scrapesOver50: number;
  scrapes: number;
}

export interface SealStallRun {
  backend: 'sqlite' | 'postgres';
  waiting: number;
  /** Writing the waiting records into the database before the server starts. */
  fixtureMs: number;
  sealMs: number;
  batches: number[];
  baseline: LoadWindow;
  duringSeal: LoadWindow;
  loadBefore: number;
  loadAfter: number;
}

export interface SealStallResult {
  runs: SealStallRun[];
  skipped: string[];
  notes: string[];
  targets: Target[];
}

/** The largest event-loop delay the server saw since the previous scrape, in ms. */
async function loopMaxMs(server: BenchServer): Promise<number> {
  const res = await fetch(`${server.url}/metrics`, {
    headers: { authorization: `Bearer ${server.adminToken}` },
  });
  const text = await res.text();
  const line = /^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text);
  return line ? Number(line[1]) * 1000 : Number.NaN;
}

/**
 * Runs the load (2 registering clients, 1 polling /healthz, the metrics scraped every 250 ms) until
 * `until` settles; returns what it measured.
 */
async function underLoad(
  server: BenchServer,
  apiKey: string,
  prefix: string,
  until: Promise<unknown>,
): Promise<LoadWindow> {
  let done = false;
  void until.finally(() => (done = true));
  const api = apiOf(server, apiKey);
  const ingestMs: number[] = [];
  const healthMs: number[] = [];
  const loops: number[] = [];
  const started = performance.now();
  await loopMaxMs(server); // resets the server's histogram: the window starts clean
  let n = 0;
  const register = async () => {
    while (!done) {
      const body: RecordsBody = recordBodies(`${prefix}-${n++}`, 1, 100)[0]!;
      const t0 = performance.now();
      await api.registerRecords(body);
      ingestMs.push(performance.now() - t0);
    }
  };
  const health = async () => {
    while (!done) {
      const t0 = performance.now();
      await (await fetch(`${server.url}/healthz`)).arrayBuffer();
      healthMs.push(performance.now() - t0);
    }
  };
  const scrape = async () => {
    while (!done) {
      await new Promise((resolve) => setTimeout(resolve, SCRAPE_MS));
      loops.push(await loopMaxMs(server));
    }
  };
  await Promise.all([register(), register(), health(), scrape(), until]);
  const finite = loops.filter(Number.isFinite);
  return {
    ms: round(performance.now() - started, 0),
    ingest: ingestMs.length ? roundLatency(latency(ingestMs)) : null,
    healthz: healthMs.length ? roundLatency(latency(healthMs)) : null,
    loopMaxMs: round(Math.max(0, ...finite), 1),
    scrapesOver50: finite.filter((ms) => ms > STALL_TARGET_MS).length,
    scrapes: finite.length,
  };
}

function roundLatency(l: Latency): Latency {
  return {
    n: l.n,
    p50: round(l.p50, 1),
    p95: round(l.p95, 1),
    p99: round(l.p99, 1),
    max: round(l.max, 1),
    mean: round(l.mean, 1),
  };
}

const FIXTURE_PER_TRANSACTION = 5000;

/** The first batch, once it is listed (a batch is listed once its seal is complete); polled every 100 ms. */
async function firstBatch(server: BenchServer): Promise<Batch> {
  const api = apiOf(server);
  for (;;) {
    const [batch] = (await api.batches({ limit: 1 })).batches;
    if (batch) return batch;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Writes `count` waiting records, each with its issuance event, straight into the stores, oldest
 * first, 1,000 to a millisecond (as 1,000-record requests leave them), the newest created now. The leaves are random: the
 * seal hashes leaves, it does not recompute them.
 */
async function writeWaiting(dataDir: string, databaseUrl: string | undefined, count: number): Promise<void> {
  const storage = await openStorage({ dataDir, ...(databaseUrl && { databaseUrl }) });
  const prng = new Prng(0x5ea1);
  // Recent, so none has waited BATCH_MAX_AGE_MS: the batcher's loop leaves them to the admin seal.
  const start = Date.now() - Math.ceil(count / 1000);
  try {
    await storage.merchants.insert({
      id: 'm_fixture',
      name: 'Fixture Merchant',
      name_key: null,
      contact_email: null,
      status: 'verified',
      created_at: new Date(start).toISOString(),
      verified_at: new Date(start).toISOString(),
      suspended_at: null,
    });
    for (let i = 0; i < count;) {
      const records: RecordRow[] = [];
      const events: EventRow[] = [];
      for (const end = Math.min(count, i + FIXTURE_PER_TRANSACTION); i < end; i++) {
        const id = Buffer.from(prng.bytes(16)).toString('base64url');
        const at = new Date(start + Math.floor(i / 1000)).toISOString();
        records.push({
          id,
          merchant_id: 'm_fixture',
          external_id: `fixture-${i}`,
          kind: 'licence',
          sku: `SKU-${i % 97}`,
          product_name: 'Stellar Frontier: Deluxe Edition (PC, global key)',
          serial: `SN-${i.toString(36).padStart(8, '0')}`,
          metadata: '{"region":"EU"}',
          secret_salt: null,
          secret_commitment: null,
          fingerprint: bytesToHex(prng.bytes(32)),
          head_seq: 0,
          state: 'active',
          sold: 0,
          activated: 0,
          revealed: 0,
          dispute: 'none',
          created_at: at,
        });
        events.push({
          record_id: id,
          seq: 0,
          type: 'issued',
          content: `{"at":"${at}","serial":"SN-${i}","type":"issued"}`,
          leaf: bytesToHex(prng.bytes(32)),
          prev_leaf: ZERO32,
          created_at: at,
          batch_id: null,
          leaf_index: null,
        });
      }
      await storage.transaction(async (tx) => {
        await tx.records.insertMany(records);
        await tx.events.insertMany(events);
      });
    }
  } finally {
    await storage.close();
  }
}

async function oneBackend(backend: 'sqlite' | 'postgres', waiting: number): Promise<SealStallRun> {
  let databaseUrl: string | undefined;
  let dropDatabase = async () => {};
  if (backend === 'postgres') {
    const name = `proofmark_bench_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(POSTGRES_ADMIN_URL);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
    dropDatabase = async () => {
      const c = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    };
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'proofmark-bench-'));
  progress(`seal-stall ${backend}: writing ${waiting.toLocaleString('en')} waiting records`);
  const t0Fixture = performance.now();
  await writeWaiting(dataDir, databaseUrl, waiting);
  const fixtureMs = performance.now() - t0Fixture;
  const server = await startBenchServer({
    dataDir,
    env: {
      BATCH_MAX_AGE_MS: '86400000',
      BATCH_MAX_LEAVES: '1000000',
      MAX_PENDING_EVENTS: '5000000',
      // The load's merchant writes throughout a long seal: at the default share it would be refused
      // (503 backlog_full, correctly) before the seal ends, and the bench would stop with it.
      MAX_PENDING_EVENTS_PER_MERCHANT: '5000000',
      ...(databaseUrl && { DATABASE_URL: databaseUrl }),
    },
  });
  try {
    const apiKey = await verifiedMerchant(server);
    const loadBefore = load1();
    progress(`seal-stall ${backend}: baseline load (load ${loadBefore})`);
    const baselineMs = 5000;
    const baseline = await underLoad(
      server,
      apiKey,
      `base-${backend}`,
      new Promise((resolve) => setTimeout(resolve, baselineMs)),
    );
    progress(`seal-stall ${backend}: sealing under the same load`);
    const t0 = performance.now();
    let sealMs = 0;
    // The seal is asked for, and seen done when its batch is listed: a seal that outlasts the
    // client's five-minute wait for response headers goes on in the server all the same.
    void sealNow(server).catch(() => {});
    const sealed = firstBatch(server).then((batch) => {
      sealMs = performance.now() - t0;
      return [batch];
    });
    const duringSeal = await underLoad(server, apiKey, `seal-${backend}`, sealed);
    const batches = (await sealed).map((b) => b.leafCount);
    progress(
      `seal-stall ${backend}: sealed ${batches.join(' + ')} in ${Math.round(sealMs)} ms; loop max ${duringSeal.loopMaxMs} ms (baseline ${baseline.loopMaxMs}); ingest p99 ${duringSeal.ingest?.p99} ms`,
    );
    return {
      backend,
      waiting,
      fixtureMs: round(fixtureMs, 0),
      sealMs: round(sealMs, 0),
      batches,
      baseline,
      duringSeal,
      loadBefore,
      loadAfter: load1(),
    };
  } finally {
    await server.stop();
    await dropDatabase().catch(() => {});
  }
}

async function postgresReachable(): Promise<string | null> {
  const c = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.end();
    return null;
  } catch (err) {
    return `PostgreSQL at ${POSTGRES_ADMIN_URL} unreachable: ${(err as Error).message}`;
  }
}

export async function runSealStall(opts: CaseOptions): Promise<SealStallResult> {
  // Fewer than BATCH_MAX_LEAVES (1,000,000) wait, or the batcher's own loop would seal them as soon
  // as the server starts; the admin seal takes them and what the baseline's load registered.
  const waiting = opts.quick ? 100_000 : 950_000;
  const runs = [await oneBackend('sqlite', waiting)];
  const skipped: string[] = [];
  const pgSkip = await postgresReachable();
  if (pgSkip) skipped.push(pgSkip);
  else runs.push(await oneBackend('postgres', waiting));
  const worst = Math.max(...runs.map((r) => r.duringSeal.loopMaxMs));
  return {
    runs,
    skipped,
    notes: [
      'One server process per backend (development chain; BATCH_MAX_LEAVES=1,000,000 and a day of BATCH_MAX_AGE_MS, so ' +
        'nothing seals until asked). The waiting records (each with its issuance event) are written into its database ' +
        'through the stores before it starts, 5,000 a transaction.',
      'Load in each window: 2 clients registering 100 records a request back to back, 1 client polling /healthz back to ' +
        'back, /metrics scraped every 250 ms. Baseline: 5 s of that load with no seal; seal: the same load from the ' +
        'admin seal request until it answers (the records registered meanwhile wait for the next seal).',
      "Event-loop delay is the server's own (perf_hooks monitorEventLoopDelay via prom-client's nodejs_eventloop_lag_max_seconds, " +
        'reset at each scrape): the largest per-scrape maximum, and how many of the scrapes saw more than 50 ms.',
    ],
    targets: [
      {
        id: 'seal-stall',
        case: 'seal-stall',
        target: `a seal of ${waiting.toLocaleString('en')}+ leaves stalls the API's event loop at most ${STALL_TARGET_MS} ms at a time`,
        figure: runs
          .map(
            (r) =>
              `${r.backend}: longest delay ${num(r.duringSeal.loopMaxMs, 1)} ms (seal ${num(r.sealMs)} ms)`,
          )
          .join('; '),
        pass: worst <= STALL_TARGET_MS,
        provisional: opts.quick,
      },
    ],
  };
}

const lat = (l: Latency | null) => (l ? `${num(l.p50, 1)} / ${num(l.p99, 1)} / ${num(l.max, 1)}` : '-');

/** The report's section: per backend, the seal and the load's latencies with and without it. */
export const sealStallReport: CaseReport<SealStallResult> = {
  title: 'Seal stall',
  section: (r) =>
    [
      table(
        [
          'backend',
          'window',
          'ms',
          'event-loop max ms',
          'scrapes > 50 ms',
          'ingest ms p50 / p99 / max (n)',
          'healthz ms p50 / p99 / max',
          'load',
        ],
        r.runs.flatMap((x) =>
          (['baseline', 'duringSeal'] as const).map((w) => [
            x.backend,
            w === 'baseline'
              ? 'no seal'
              : `seal of ${x.batches.map((b) => num(b)).join(' + ')}: **${num(x.sealMs)} ms**`,
            num(x[w].ms),
            `**${num(x[w].loopMaxMs, 1)}**`,
            `${x[w].scrapesOver50}/${x[w].scrapes}`,
            `${lat(x[w].ingest)} (${x[w].ingest?.n ?? 0})`,
            lat(x[w].healthz),
            num(w === 'baseline' ? x.loadBefore : x.loadAfter, 2),
          ]),
        ),
      ),
      '',
      ...r.skipped.map((s) => `Skipped: ${s}.`),
      ...r.notes.map((x) => `- ${x}`),
    ].join('\n'),
};

if (isMain(import.meta.url)) await caseMain(runSealStall);
