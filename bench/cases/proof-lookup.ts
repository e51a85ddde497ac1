/**
 * Case 2, proof lookup: a batch sealed by the service's own code (sealBatch) into a real SQLite
 * database in a temporary directory, then random proofs read back with proofFromStore, the service's
 * proof path, each checked with processProof against the batch root. Also times the seal itself.
 *
 * The pending events are a synthetic fixture written straight into the `events` table with Kysely in
 * large transactions, with foreign keys off for the fixture only (no `records` rows); they are back on
 * for sealing and lookups, which run exactly as in the service.
 *
 * Alone: `npx tsx bench/cases/proof-lookup.ts [--quick] [--runs n] [--json-out file]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { bytesToHex, processProof, ZERO32, type Hex } from '../../src/core/index.ts';
import { proofFromStore } from '../../src/service/batches.ts';
import { createServiceContext } from '../../src/service/context.ts';
import { sealBatch } from '../../src/service/sealing.ts';
import type { EventRow } from '../../src/storage/rows.ts';
import { openStorage, type SqlStorage } from '../../src/storage/sql/open.ts';
import { caseMain, type CaseOptions, type CaseReport, type Target } from '../lib/case.ts';
import { isMain } from '../lib/child.ts';
import { progress } from '../lib/log.ts';
import { load1 } from '../lib/machine.ts';
import { Prng } from '../lib/prng.ts';
import { latency, round, roundSummary, summarize, type Latency, type Summary } from '../lib/stats.ts';
import { ServerKey } from '../../src/service/server-key.ts';
import { num, spread, table } from '../lib/markdown.ts';

const ROWS_PER_INSERT = 3000; // 9 columns: under SQLite's 32,766 bound parameters
const ROWS_PER_TRANSACTION = 100_000;
const LOOKUPS = 1000;
const ROUNDS = 3;

export interface ProofLookupRun {
  leaves: number;
  fixtureMs: number;
  sealMs: number;
  treeLevels: number;
  storedChunks: number;
  databaseMB: number;
  rounds: Array<Latency & { verified: number }>;
  /** Process CPU time (user + system) per call, averaged over each round: less sensitive to a busy machine. */
  cpuMeanMsByRound: number[];
  /** Garbage collections during the timed calls, and calls over 1 ms that overlapped one. */
  gc: { count: number; totalMs: number; maxMs: number; slowCalls: number; slowCallsDuringGc: number };
  loadBefore: number;
  loadAfter: number;
}

export interface ProofLookupResult {
  leaves: number;
  lookupsPerRound: number;
  runs: ProofLookupRun[];
  sealMs: Summary;
  /** All lookups of all runs and rounds together. */
  pooled: Latency;
  /** The first round after each seal (cold caches and code). */
  firstRound: Latency;
  p99ByRound: Summary;
  notes: string[];
  targets: Target[];
}

/** Writes `n` pending issuance events, oldest first, like registerRecords would leave them. */
async function writeFixture(db: SqlStorage['db'], n: number, prng: Prng): Promise<void> {
  await sql`PRAGMA foreign_keys = OFF`.execute(db);
  const start = Date.parse('2026-01-01T00:00:00Z');
  let i = 0;
  while (i < n) {
    await db.transaction().execute(async (trx) => {
      const end = Math.min(n, i + ROWS_PER_TRANSACTION);
      while (i < end) {
        const rows: EventRow[] = [];
        for (const stop = Math.min(end, i + ROWS_PER_INSERT); i < stop; i++) {
          const recordId = Buffer.from(prng.bytes(16)).toString('base64url');
          // 1,000 events per millisecond-stamped request, as registerRecords writes them.
          const at = new Date(start + Math.floor(i / 1000)).toISOString();
          const content = JSON.stringify({
            at,
            kind: 'licence',
            merchantId: 'bench-merchant-000000',
            metadata: { edition: 'deluxe', platform: 'steam', region: 'EU' },
            productName: 'Stellar Frontier: Deluxe Edition (PC, global key)',
            salt: bytesToHex(prng.bytes(32)),
            secretCommitment: bytesToHex(prng.bytes(32)),
            serial: `SN-${i.toString(36).padStart(8, '0')}`,
            sku: `SKU-GAME-${i % 97}`,
            type: 'issued',
          });
          rows.push({
            record_id: recordId,
            seq: 0,
            type: 'issued',
            content,
            leaf: bytesToHex(prng.bytes(32)),
            prev_leaf: ZERO32,
            created_at: at,
            batch_id: null,
            leaf_index: null,
          });
        }
        await trx.insertInto('events').values(rows).execute();
      }
    });
  }
  await sql`PRAGMA foreign_keys = ON`.execute(db);
}

export async function runProofLookup(opts: CaseOptions): Promise<ProofLookupResult> {
  const leaves = opts.quick ? 100_000 : 1_000_000;
  const runCount = opts.runs ?? (opts.quick ? 1 : 2);
  const runs: ProofLookupRun[] = [];
  const all: number[] = [];
  const first: number[] = [];
  for (let run = 0; run < runCount; run++) {
    const dataDir = mkdtempSync(join(tmpdir(), 'proofmark-bench-proofs-'));
    const storage = await openStorage({ dataDir });
    try {
      const ctx = createServiceContext({
        storage,
        keys: ServerKey.generate(),
        publicBaseUrl: 'http://proofmark.bench',
      });
      const prng = new Prng(0x9f00 + run);
      progress(
        `proof-lookup run ${run + 1}/${runCount}: writing ${leaves.toLocaleString('en')} pending events`,
      );
      let t0 = performance.now();
      await writeFixture(storage.db, leaves, prng);
      const fixtureMs = performance.now() - t0;

      const loadBefore = load1();
      progress(`proof-lookup run ${run + 1}: sealing (load ${loadBefore})`);
      t0 = performance.now();
      const batch = await sealBatch(ctx, leaves);
      const sealMs = performance.now() - t0;
      if (!batch || batch.leaf_count !== leaves)
        throw new Error(`sealed ${batch?.leaf_count} leaves, not ${leaves}`);
      progress(
        `proof-lookup run ${run + 1}: sealed in ${Math.round(sealMs)} ms; ${ROUNDS} x ${LOOKUPS} lookups`,
      );

      const chunks = await storage.db
        .selectFrom('tree_nodes')
        .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.max('level').as('top')])
        .where('batch_id', '=', batch.id)
        .executeTakeFirstOrThrow();
      const rounds: ProofLookupRun['rounds'] = [];
      const cpuMeanMsByRound: number[] = [];
      const gcs: Array<{ start: number; end: number }> = [];
      const observer = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) gcs.push({ start: e.startTime, end: e.startTime + e.duration });
      });
      observer.observe({ entryTypes: ['gc'] });
      const spans: Array<{ start: number; end: number }> = [];
      for (let r = 0; r < ROUNDS; r++) {
        const indexes = Array.from({ length: LOOKUPS }, () => prng.int(leaves));
        const times: number[] = [];
        const proofs: Hex[][] = [];
        const cpuStart = process.cpuUsage();
        for (const index of indexes) {
          const s = performance.now();
          proofs.push(await proofFromStore(ctx, batch.id, batch.leaf_count, index));
          const e = performance.now();
          times.push(e - s);
          spans.push({ start: s, end: e });
        }
        const used = process.cpuUsage(cpuStart);
        cpuMeanMsByRound.push(round((used.user + used.system) / 1000 / LOOKUPS, 4));
        // Verified after timing, so the check does not sit inside the measured calls.
        let verified = 0;
        for (let k = 0; k < indexes.length; k++) {
          const row = await storage.db
            .selectFrom('events')
            .select('leaf')
            .where('batch_id', '=', batch.id)
            .where('leaf_index', '=', indexes[k]!)
            .executeTakeFirstOrThrow();
          if (processProof(row.leaf as Hex, proofs[k]!) !== batch.root) {
            throw new Error(`proof of leaf ${indexes[k]} does not reach the root`);
          }
          verified++;
        }
        all.push(...times);
        if (r === 0) first.push(...times);
        rounds.push({ ...roundLatency(latency(times)), verified });
      }
      await new Promise((resolve) => setTimeout(resolve, 100)); // let the observer deliver
      observer.disconnect();
      const slow = spans.filter((x) => x.end - x.start > 1);
      const gc = {
        count: gcs.length,
        totalMs: round(
          gcs.reduce((a, g) => a + g.end - g.start, 0),
          1,
        ),
        maxMs: round(Math.max(0, ...gcs.map((g) => g.end - g.start)), 2),
        slowCalls: slow.length,
        slowCallsDuringGc: slow.filter((x) => gcs.some((g) => g.start < x.end && g.end > x.start)).length,
      };
      const size = await sql<{
        n: number;
      }>`SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()`.execute(storage.db);
      runs.push({
        leaves,
        fixtureMs: round(fixtureMs, 0),
        sealMs: round(sealMs, 1),
        treeLevels: Number(chunks.top) + 1,
        storedChunks: Number(chunks.n),
        databaseMB: round(Number(size.rows[0]?.n ?? 0) / 2 ** 20, 1),
        rounds,
        cpuMeanMsByRound,
        gc,
        loadBefore,
        loadAfter: load1(),
      });
    } finally {
      await storage.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  const pooled = roundLatency(latency(all));
  const sealMs = roundSummary(summarize(runs.map((r) => r.sealMs)), 1);
  const p99ByRound = roundSummary(summarize(runs.flatMap((r) => r.rounds.map((x) => x.p99))), 4);
  const label = leaves.toLocaleString('en');
  return {
    leaves,
    lookupsPerRound: LOOKUPS,
    runs,
    sealMs,
    pooled,
    firstRound: roundLatency(latency(first)),
    p99ByRound,
    notes: [
      `Each run: a fresh database, ${label} pending events, one sealBatch, then ${ROUNDS} rounds of ${LOOKUPS} ` +
        'proofFromStore calls at seeded random leaf indexes, timed one by one (the first round right after the seal). ' +
        'Every proof is then checked with processProof against the batch root, outside the timing.',
      'proofFromStore reads the ~log2(n) 8 KB chunks that hold the siblings in one query, through Kysely on better-sqlite3 ' +
        '(synchronous: a call never waits on I/O threads).',
      `Seal time covers sealBatch alone: assigning ${label} events to the batch (one UPDATE), reading the leaves back, ` +
        'building the tree and storing every level in 256-node chunks, in one transaction.',
    ],
    targets: [
      {
        id: 'proof-p99',
        case: 'proof-lookup',
        target: 'proof lookup p99 under 1 ms (1M-leaf batch)',
        figure: `p99 ${round(pooled.p99, 3)} ms over ${pooled.n.toLocaleString('en')} lookups in a ${label}-leaf batch (p50 ${round(pooled.p50, 3)} ms, max ${round(pooled.max, 1)} ms; p99 per round ${round(p99ByRound.min, 3)}-${round(p99ByRound.max, 3)} ms)`,
        pass: pooled.p99 < 1,
        provisional: leaves < 1_000_000,
      },
      {
        id: 'seal-time',
        case: 'proof-lookup',
        target: 'seal time reported (no target)',
        figure: `sealBatch of ${label} leaves: ${sealMs.median} ms (median of ${sealMs.n}, ${sealMs.min}-${sealMs.max})`,
        pass: null,
      },
    ],
  };
}

function roundLatency(l: Latency): Latency {
  return {
    n: l.n,
    p50: round(l.p50, 4),
    p95: round(l.p95, 4),
    p99: round(l.p99, 4),
    max: round(l.max, 4),
    mean: round(l.mean, 4),
  };
}

/** The report's section: latency by run and round, the pooled percentiles, seal time and GC. */
export const proofLookupReport: CaseReport<ProofLookupResult> = {
  title: 'Proof lookup',
  // sealBatch's time is reported alongside, with no target of its own.
  reportedTargets: ['seal-time'],
  section: (r) => {
    const rows = r.runs.flatMap((run, i) =>
      run.rounds.map((x, j) => [
        `${i + 1}.${j + 1}${j === 0 ? ' (first after seal)' : ''}`,
        num(x.p50, 3),
        num(x.p95, 3),
        num(x.p99, 3),
        num(x.max, 2),
        num(run.cpuMeanMsByRound[j], 3),
        `${x.verified}/${x.n}`,
        num(run.loadBefore, 2),
      ]),
    );
    const gc = r.runs
      .map(
        (x, i) =>
          `run ${i + 1}: ${x.gc.count} GCs, ${x.gc.totalMs} ms in all (longest ${x.gc.maxMs} ms); ${x.gc.slowCalls} calls over 1 ms, ${x.gc.slowCallsDuringGc} of them during a GC`,
      )
      .join('; ');
    return [
      `Batch of ${num(r.leaves)} leaves sealed with sealBatch into SQLite; ${r.lookupsPerRound} random proofFromStore calls per round.`,
      '',
      table(
        [
          'run.round',
          'p50 ms',
          'p95 ms',
          'p99 ms',
          'max ms',
          'CPU ms/call (mean)',
          'proofs verified',
          'load',
        ],
        rows,
      ),
      '',
      `All rounds together: p50 ${r.pooled.p50} ms, p95 ${r.pooled.p95} ms, **p99 ${r.pooled.p99} ms**, max ${r.pooled.max} ms (n=${r.pooled.n}). ` +
        `p99 per round: ${spread(r.p99ByRound, 3)} ms.`,
      '',
      `Seal (sealBatch, ${num(r.leaves)} leaves): **${spread(r.sealMs, 0)} ms**. ` +
        r.runs
          .map(
            (x, i) =>
              `Run ${i + 1}: fixture ${num(x.fixtureMs)} ms, ${x.treeLevels} levels in ${num(x.storedChunks)} chunks, database ${x.databaseMB} MB.`,
          )
          .join(' '),
      '',
      `Garbage collection during the timed calls: ${gc}.`,
      '',
      ...r.notes.map((x) => `- ${x}`),
    ].join('\n');
  },
};

if (isMain(import.meta.url)) await caseMain(runProofLookup);
