/**
 * Case 4, seal and anchor: from `POST /v1/admin/batches/seal` (batcher.sealNow) to the batch being
 * `final` on the development chain, for one batch of 100,000 records (quick: 20,000) registered through
 * the API. GET /v1/batches/:id is polled every 20 ms; the phases come from the bench's clock around the
 * seal request and from the batches row (anchored_at, final_at), all on the same machine's clock.
 *
 * Alone: `npx tsx bench/cases/seal-anchor.ts [--quick] [--runs n] [--json-out file]`.
 */
import SQLite from 'better-sqlite3';
import { JsonRpcProvider } from 'ethers';
import { apiOf, ingest, recordBodies, sealNow, verifiedMerchant, waitFinal } from '../lib/api.ts';
import { caseMain, type CaseOptions, type CaseReport, type Target } from '../lib/case.ts';
import { isMain } from '../lib/child.ts';
import { progress } from '../lib/log.ts';
import { load1 } from '../lib/machine.ts';
import { startBenchServer } from '../lib/server.ts';
import { round, roundSummary, summarize, type Summary } from '../lib/stats.ts';
import { INGEST_ENV } from './ingest.ts';
import { num, spread, table } from '../lib/markdown.ts';

const POLL_MS = 20;

export interface SealAnchorRun {
  batchId: number;
  leaves: number;
  ingestMs: number;
  /** POST /v1/admin/batches/seal sent -> answered (the batch is sealed and stored). */
  sealMs: number;
  /** Seal answered -> anchored_at (batcher tick, sign, save, broadcast, receipt). */
  anchorMs: number;
  /** anchored_at -> final_at (confirmations, root read back from the chain). */
  finalMs: number;
  /** final_at -> the 20 ms poll saw `final`. */
  observeMs: number;
  /** Seal request sent -> poll saw `final`. */
  totalMs: number;
  gasUsed: number | null;
  loadBefore: number;
  loadAfter: number;
}

export interface SealAnchorResult {
  leaves: number;
  pollMs: number;
  chainPollMs: number;
  runs: SealAnchorRun[];
  totalMs: Summary;
  sealMs: Summary;
  anchorMs: Summary;
  finalMs: Summary;
  notes: string[];
  targets: Target[];
}

export async function runSealAnchor(opts: CaseOptions): Promise<SealAnchorResult> {
  const leaves = opts.quick ? 20_000 : 100_000;
  const runCount = opts.runs ?? 3;
  const runs: SealAnchorRun[] = [];
  const server = await startBenchServer({ env: INGEST_ENV });
  try {
    const apiKey = await verifiedMerchant(server);
    const chainInfo = await apiOf(server).chain();
    const provider = chainInfo.rpcUrl
      ? new JsonRpcProvider(chainInfo.rpcUrl, undefined, { staticNetwork: true })
      : null;
    for (let run = 0; run < runCount; run++) {
      progress(`seal-anchor run ${run + 1}/${runCount}: registering ${leaves.toLocaleString('en')} records`);
      const ingested = await ingest(server, apiKey, recordBodies(`seal${run}`, leaves / 1000), 4);
      const loadBefore = load1();
      progress(`seal-anchor run ${run + 1}: sealing and waiting for final (load ${loadBefore})`);
      const t0 = Date.now();
      const p0 = performance.now();
      const batches = await sealNow(server);
      const p1 = performance.now();
      const t1 = Date.now();
      if (batches.length !== 1 || batches[0]!.leafCount !== leaves) {
        throw new Error(
          `expected one batch of ${leaves}, got ${JSON.stringify(batches.map((b) => b.leafCount))}`,
        );
      }
      const batchId = batches[0]!.id;
      const p2 = await waitFinal(server, batchId, { everyMs: POLL_MS });
      const db = new SQLite(server.dbFile, { readonly: true });
      const row = db
        .prepare('select anchored_at, final_at, tx_hash from batches where id = ?')
        .get(batchId) as { anchored_at: string; final_at: string; tx_hash: string };
      db.close();
      const anchoredAt = Date.parse(row.anchored_at);
      const finalAt = Date.parse(row.final_at);
      const receipt = provider ? await provider.getTransactionReceipt(row.tx_hash) : null;
      const r: SealAnchorRun = {
        batchId,
        leaves,
        ingestMs: round(ingested.wallMs, 0),
        sealMs: round(p1 - p0, 1),
        anchorMs: anchoredAt - t1,
        finalMs: finalAt - anchoredAt,
        observeMs: round(t0 + (p2 - p0) - finalAt, 1),
        totalMs: round(p2 - p0, 1),
        gasUsed: receipt ? Number(receipt.gasUsed) : null,
        loadBefore,
        loadAfter: load1(),
      };
      progress(
        `seal-anchor run ${run + 1}: total ${Math.round(r.totalMs)} ms (seal ${Math.round(r.sealMs)}, anchor ${r.anchorMs}, final ${r.finalMs})`,
      );
      runs.push(r);
    }
    provider?.destroy();
  } finally {
    await server.stop();
  }
  const s = (f: (r: SealAnchorRun) => number) => roundSummary(summarize(runs.map(f)), 1);
  const totalMs = s((r) => r.totalMs);
  const label = leaves.toLocaleString('en');
  return {
    leaves,
    pollMs: POLL_MS,
    chainPollMs: 200,
    runs,
    totalMs,
    sealMs: s((r) => r.sealMs),
    anchorMs: s((r) => r.anchorMs),
    finalMs: s((r) => r.finalMs),
    notes: [
      `One server (development chain, CONFIRMATIONS=1, CHAIN_POLL_MS=200 as configured by default for it); each run ` +
        `registers ${label} records through the API, then seals them as one batch and waits for it to be final. ` +
        'Later runs seal on top of the earlier batches (a growing database, as in service).',
      'Phases: seal = the admin seal request (sealBatch in full); anchor = answer -> anchored_at (the batcher is kicked, ' +
        'signs, saves, broadcasts, reads the receipt; it may first finish a tick already under way); final = anchored_at -> ' +
        'final_at (1 confirmation, root read back); observe = final_at -> seen by the 20 ms poll. Timestamps are ms.',
    ],
    targets: [
      {
        id: 'seal-anchor',
        case: 'seal-anchor',
        target: 'seal to final under 5 s for a 100,000-record batch',
        figure: `${totalMs.median} ms for ${label} records (median of ${totalMs.n}, ${totalMs.min}-${totalMs.max} ms)`,
        pass: totalMs.median < 5000,
        provisional: leaves < 100_000,
      },
    ],
  };
}

/** The report's section: each batch's seal, anchor and final times and its anchor's gas. */
export const sealAnchorReport: CaseReport<SealAnchorResult> = {
  title: 'Seal and anchor',
  section: (r) =>
    [
      table(
        [
          'batch',
          'records',
          'seal ms',
          'anchor ms',
          'final ms',
          'observe ms',
          'total ms',
          'anchor gas',
          'load',
        ],
        r.runs.map((x) => [
          String(x.batchId),
          num(x.leaves),
          num(x.sealMs),
          num(x.anchorMs),
          num(x.finalMs),
          num(x.observeMs),
          `**${num(x.totalMs)}**`,
          num(x.gasUsed),
          num(x.loadBefore, 2),
        ]),
      ),
      '',
      `Seal to final: **${spread(r.totalMs)} ms**; seal ${spread(r.sealMs)} ms, anchor ${spread(r.anchorMs)} ms, final ${spread(r.finalMs)} ms.`,
      '',
      ...r.notes.map((x) => `- ${x}`),
    ].join('\n'),
};

if (isMain(import.meta.url)) await caseMain(runSealAnchor);
