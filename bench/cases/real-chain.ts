/**
 * Case: anchoring on a chain that mines on a clock, end to end. Foundry's anvil (the binary of the
 * @foundry-rs/anvil npm package) mines a block every 2 s; proofmark serves on it as on a real chain
 * (RPC_URL, ANCHOR_CONTRACT, ANCHORER_PRIVATE_KEY; CONFIRMATIONS=2; every batch setting at its
 * default). 100,000 records (quick: 20,000) are posted as fast as the API takes them, 1,000 a
 * request, 2 clients; the case waits until every record's batch is final. Then a 12 s-block run
 * with fewer records (20,000; quick: 5,000), as on Ethereum mainnet.
 *
 * Reported per run: ingest seconds (the baseline: the API alone), seconds until every record is
 * final, end-to-end records/s (first request to last record final), batches and blocks used, failed
 * batcher steps (proofmark_batcher_failed_steps_total), acknowledgement-to-final latency p50/p99 per
 * record (created_at to its batch's final_at, from the server's database: one clock), and gas per
 * record (from the anchor receipts).
 *
 * Alone: `npx tsx bench/cases/real-chain.ts [--quick] [--json-out file]`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { JsonRpcProvider } from 'ethers';
import { deployRegistry } from '../../src/chain/deploy.ts';
import { ingest, recordBodies, verifiedMerchant } from '../lib/api.ts';
import { caseMain, type CaseOptions, type CaseReport, type Target } from '../lib/case.ts';
import { isMain } from '../lib/child.ts';
import { progress } from '../lib/log.ts';
import { load1, ROOT } from '../lib/machine.ts';
import { num, table } from '../lib/markdown.ts';
import { startBenchServer } from '../lib/server.ts';
import { quantile, round } from '../lib/stats.ts';

const ANVIL = join(ROOT, 'node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil');
/** anvil's first default account (the same well-known key as Hardhat's). */
const ANVIL_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
const SECRET_KEY = '6b'.repeat(32);
const CONFIRMATIONS = 2;
/**
 * The target: gas per record below 0.54 at 100,000 records. One anchor costs about 53,928 gas,
 * so that is every record in one batch (0.539); the starting point, ten batches of 10,000,
 * was 5.39.
 */
const GAS_PER_RECORD_BEFORE = 0.54;
const E2E_TARGET = 5000;

export interface RealChainRun {
  blockSeconds: number;
  records: number;
  ingestSeconds: number;
  ingestPerSecond: number;
  /** First request sent -> the last record's batch final (seen by polling the database every 100 ms). */
  allFinalSeconds: number;
  endToEndPerSecond: number;
  batches: number;
  leavesPerBatch: number[];
  blocksUsed: number;
  /** Blocks mined from the first request to the last batch final. */
  blocksElapsed: number;
  failedSteps: number;
  ackToFinalSeconds: { p50: number; p99: number; max: number };
  gasPerRecord: number;
  gasPerBatch: number;
  loadBefore: number;
  loadAfter: number;
}

export interface RealChainResult {
  anvil: string;
  runs: RealChainRun[];
  notes: string[];
  targets: Target[];
}

async function startAnvil(
  blockSeconds: number,
): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(ANVIL, ['--port', String(port), '--block-time', String(blockSeconds), '--silent'], {
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true });
  for (let i = 0; ; i++) {
    try {
      await provider.getBlockNumber();
      break;
    } catch (err) {
      if (i > 100) throw new Error(`anvil did not start: ${(err as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  provider.destroy();
  return {
    url,
    child,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function failedSteps(url: string, token: string): Promise<number> {
  const text = await (
    await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
  ).text();
  return Number(/^proofmark_batcher_failed_steps_total (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
}

async function oneRun(blockSeconds: number, records: number): Promise<RealChainRun> {
  const anvil = await startAnvil(blockSeconds);
  const provider = new JsonRpcProvider(anvil.url, undefined, { staticNetwork: true, pollingInterval: 500 });
  try {
    progress(`real-chain ${blockSeconds} s blocks: deploying the registry`);
    const { address } = await deployRegistry(provider, ANVIL_KEY);
    const server = await startBenchServer({
      env: {
        RPC_URL: anvil.url,
        ANCHOR_CONTRACT: address,
        ANCHORER_PRIVATE_KEY: ANVIL_KEY,
        SECRET_KEY,
        CONFIRMATIONS: String(CONFIRMATIONS),
      },
    });
    try {
      const apiKey = await verifiedMerchant(server);
      const bodies = recordBodies(`chain${blockSeconds}`, records / 1000);
      const loadBefore = load1();
      const startBlock = await provider.getBlockNumber();
      progress(
        `real-chain ${blockSeconds} s blocks: posting ${records.toLocaleString('en')} records (load ${loadBefore})`,
      );
      const t0 = performance.now();
      const ingested = await ingest(server, apiKey, bodies, 2);
      const ingestSeconds = (performance.now() - t0) / 1000;
      progress(
        `real-chain ${blockSeconds} s blocks: ingested in ${ingestSeconds.toFixed(1)} s; waiting for final`,
      );
      const db = new SQLite(server.dbFile, { readonly: true });
      try {
        const deadline = performance.now() + 30 * 60_000;
        for (;;) {
          const open = db
            .prepare(
              `SELECT (SELECT COUNT(*) FROM events WHERE batch_id IS NULL) +
                      (SELECT COALESCE(SUM(leaf_count), 0) FROM batches WHERE status <> 'final') AS n`,
            )
            .get() as { n: number };
          if (open.n === 0) break;
          if (performance.now() > deadline) throw new Error(`${open.n} events not final after 30 minutes`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const allFinalSeconds = (performance.now() - t0) / 1000;
        const endBlock = await provider.getBlockNumber();
        const batches = db
          .prepare(`SELECT id, leaf_count, tx_hash, block_number FROM batches ORDER BY id`)
          .all() as { id: number; leaf_count: number; tx_hash: string; block_number: number }[];
        const latencies = (
          db
            .prepare(
              `SELECT (julianday(b.final_at) - julianday(e.created_at)) * 86400.0 AS s
               FROM events e JOIN batches b ON b.id = e.batch_id`,
            )
            .all() as { s: number }[]
        )
          .map((r) => r.s)
          .sort((a, b) => a - b);
        let gas = 0;
        for (const b of batches) gas += Number((await provider.getTransactionReceipt(b.tx_hash))!.gasUsed);
        const events = latencies.length;
        const run: RealChainRun = {
          blockSeconds,
          records: ingested.records,
          ingestSeconds: round(ingestSeconds, 1),
          ingestPerSecond: round(ingested.records / ingestSeconds, 0),
          allFinalSeconds: round(allFinalSeconds, 1),
          endToEndPerSecond: round(ingested.records / allFinalSeconds, 0),
          batches: batches.length,
          leavesPerBatch: batches.map((b) => b.leaf_count),
          blocksUsed: new Set(batches.map((b) => b.block_number)).size,
          blocksElapsed: endBlock - startBlock,
          failedSteps: await failedSteps(server.url, server.adminToken),
          ackToFinalSeconds: {
            p50: round(quantile(latencies, 0.5), 1),
            p99: round(quantile(latencies, 0.99), 1),
            max: round(latencies.at(-1) ?? Number.NaN, 1),
          },
          gasPerRecord: round(gas / events, 3),
          gasPerBatch: round(gas / batches.length, 0),
          loadBefore,
          loadAfter: load1(),
        };
        progress(
          `real-chain ${blockSeconds} s blocks: all final in ${run.allFinalSeconds} s (${run.endToEndPerSecond}/s), ` +
            `${run.batches} batches in ${run.blocksUsed} blocks, ${run.failedSteps} failed steps, ${run.gasPerRecord} gas/record`,
        );
        return run;
      } finally {
        db.close();
      }
    } finally {
      await server.stop();
    }
  } finally {
    provider.destroy();
    await anvil.stop();
  }
}

export async function runRealChain(opts: CaseOptions): Promise<RealChainResult> {
  if (!existsSync(ANVIL)) {
    throw new Error(`no anvil binary at ${ANVIL}: install the @foundry-rs/anvil dev dependency (npm ci)`);
  }
  const fast = opts.quick ? 20_000 : 100_000;
  const slow = opts.quick ? 5_000 : 20_000;
  const runs = [await oneRun(2, fast), await oneRun(12, slow)];
  const two = runs[0]!;
  return {
    anvil: ANVIL.replace(`${ROOT}/`, ''),
    runs,
    notes: [
      `anvil mining on a clock (--block-time), CONFIRMATIONS=${CONFIRMATIONS}, every other setting at its real-chain default ` +
        '(BATCH_MAX_LEAVES 10,000, BATCH_MAX_AGE_MS 10 s, BATCH_CEILING_LEAVES 1,000,000, CHAIN_POLL_MS 2 s); SQLite; one server process.',
      'Records are posted 1,000 a request by 2 clients as fast as the API answers. "All final" is from the first request until ' +
        'no event is unbatched or in an unfinished batch (the database polled every 100 ms).',
      'Acknowledgement to final is per record: its event created_at to its batch final_at, both written by the server. ' +
        "Gas per record is the anchor receipts' gas over the records: one anchor is about 53,928 gas, so 0.54 gas per " +
        "record at 100,000 records means one batch; ten batches of 10,000 (the issue's starting point) are 5.39. " +
        'Failed steps: proofmark_batcher_failed_steps_total.',
    ],
    targets: [
      {
        id: 'real-chain-e2e',
        case: 'real-chain',
        target: `2 s blocks, ${CONFIRMATIONS} confirmations, 100,000 records: every record final at >= ${E2E_TARGET.toLocaleString('en')} records/s end to end`,
        figure: `${num(two.endToEndPerSecond)} records/s (${num(two.records)} records final in ${two.allFinalSeconds} s; ingest alone ${num(two.ingestPerSecond)}/s)`,
        pass: two.endToEndPerSecond >= E2E_TARGET,
        provisional: two.records < 100_000,
      },
      {
        id: 'real-chain-failed-steps',
        case: 'real-chain',
        target: 'zero failed batcher steps on a healthy chain',
        figure: runs.map((r) => `${r.blockSeconds} s blocks: ${r.failedSteps}`).join('; '),
        pass: runs.every((r) => r.failedSteps === 0),
      },
      {
        id: 'real-chain-gas',
        case: 'real-chain',
        target: `gas per record below ${GAS_PER_RECORD_BEFORE} at 100,000 records (2 s blocks)`,
        figure: `${two.gasPerRecord} gas per record (${two.batches} batches, ${num(two.gasPerBatch)} gas each)`,
        pass: two.gasPerRecord < GAS_PER_RECORD_BEFORE,
        provisional: two.records < 100_000,
      },
    ],
  };
}

/** The report's section: one row per block time. */
export const realChainReport: CaseReport<RealChainResult> = {
  title: 'Real chain (anvil)',
  section: (r) =>
    [
      table(
        [
          'block time',
          'records',
          'ingest s (records/s)',
          'all final s',
          'end to end records/s',
          'batches (leaves)',
          'blocks used / elapsed',
          'failed steps',
          'ack to final s p50 / p99',
          'gas / record',
          'load',
        ],
        r.runs.map((x) => [
          `${x.blockSeconds} s`,
          num(x.records),
          `${num(x.ingestSeconds, 1)} (${num(x.ingestPerSecond)})`,
          num(x.allFinalSeconds, 1),
          `**${num(x.endToEndPerSecond)}**`,
          `${x.batches} (${x.leavesPerBatch.map((n) => num(n)).join(', ')})`,
          `${x.blocksUsed} / ${x.blocksElapsed}`,
          String(x.failedSteps),
          `${num(x.ackToFinalSeconds.p50, 1)} / ${num(x.ackToFinalSeconds.p99, 1)}`,
          num(x.gasPerRecord, 3),
          num(x.loadBefore, 2),
        ]),
      ),
      '',
      `anvil: \`${r.anvil}\`.`,
      '',
      ...r.notes.map((x) => `- ${x}`),
    ].join('\n'),
};

if (isMain(import.meta.url)) await caseMain(runRealChain);
