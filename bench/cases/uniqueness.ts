/**
 * Case: one key, one sale. (1) What the blind index costs registration: records per second through
 * the service (registerRecords, 1,000 a call) on a fresh SQLite file, with and without the unique
 * keys, alternating in the same run. (2) `proofmark records import` of a serial,secret file as a
 * child process against a server in its own process, beside the API's own ingest rate (4 clients of
 * 1,000-record requests) measured on the same server in the same run.
 *
 * Alone: `npx tsx bench/cases/uniqueness.ts [--quick] [--json-out file]`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { createServiceContext } from '../../src/service/context.ts';
import { createMerchant, verifyMerchant } from '../../src/service/merchants.ts';
import { registerRecords, type RecordInput } from '../../src/service/registration.ts';
import { ServerKey } from '../../src/service/server-key.ts';
import { openStorage } from '../../src/storage/sql/open.ts';
import { ingest, recordBodies, verifiedMerchant } from '../lib/api.ts';
import { caseMain, type CaseOptions, type CaseReport, type Target } from '../lib/case.ts';
import { num, table } from '../lib/markdown.ts';
import { isMain } from '../lib/child.ts';
import { progress } from '../lib/log.ts';
import { startBenchServer } from '../lib/server.ts';
import { INGEST_ENV } from './ingest.ts';

const run = promisify(execFile);

function inputs(prefix: string, calls: number): RecordInput[][] {
  return Array.from({ length: calls }, (_, c) =>
    Array.from({ length: 1000 }, (_, i) => {
      const n = c * 1000 + i;
      return {
        externalId: `${prefix}-${n}`,
        kind: 'licence' as const,
        sku: `SKU-${n % 97}`,
        productName: 'Stellar Frontier: Deluxe Edition',
        serial: `SN-${prefix}-${n}`,
        secret: `${prefix.toUpperCase()}-${n.toString(16).padStart(6, '0')}-ABCDE-FGHIJ`,
      };
    }),
  );
}

/** Records per second through registerRecords, with and without unique keys, alternating. */
async function indexCost(calls: number, rounds: number) {
  const dataDir = mkdtempSync(join(tmpdir(), 'proofmark-bench-uniq-'));
  const storage = await openStorage({ dataDir });
  try {
    const keys = ServerKey.generate();
    const log = pino({ level: 'silent' });
    const withIndex = createServiceContext({ storage, keys, log });
    const without = { ...withIndex, withoutUniqueKeys: true as const };
    const { merchant } = await createMerchant(withIndex, { name: 'Bench Uniqueness' });
    await verifyMerchant(withIndex, merchant.id, [{ description: 'bench', sha256: 'a'.repeat(64) }]);
    const m = (await storage.merchants.get(merchant.id))!;
    const rates: { with: number[]; without: number[] } = { with: [], without: [] };
    for (let r = 0; r < rounds; r++) {
      for (const [name, ctx] of [
        ['with', withIndex],
        ['without', without],
      ] as const) {
        const batches = inputs(`${name}${r}`, calls);
        const t0 = performance.now();
        for (const batch of batches) await registerRecords(ctx, m, batch);
        const rps = (calls * 1000) / ((performance.now() - t0) / 1000);
        rates[name].push(Math.round(rps));
        progress(`index cost round ${r + 1}: ${name} the index ${Math.round(rps)} records/s`);
      }
    }
    return rates;
  } finally {
    await storage.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The API's ingest rate, then the import of a `lines`-line serial,secret file, on one server. */
async function importVsApi(lines: number, apiRequests: number) {
  // Nothing is sealed while measuring, so one merchant's backlog holds the API's records and the
  // import's: past MAX_PENDING_EVENTS_PER_MERCHANT (100,000 by default) the import would wait on 503.
  const server = await startBenchServer({
    env: { ...INGEST_ENV, MAX_PENDING_EVENTS_PER_MERCHANT: String(2 * (lines + apiRequests * 1000)) },
  });
  const dir = mkdtempSync(join(tmpdir(), 'proofmark-bench-import-'));
  try {
    const apiKey = await verifiedMerchant(server);
    await ingest(server, apiKey, recordBodies('warm', 1, 10), 1);
    const out = await ingest(server, apiKey, recordBodies('api', apiRequests, 1000), 4);
    const apiRps = Math.round(out.records / (out.wallMs / 1000));
    progress(`API ingest: ${apiRps} records/s (${out.records} records)`);
    const file = join(dir, 'stock.txt');
    writeFileSync(
      file,
      Array.from(
        { length: lines },
        (_, i) => `SN-imp-${i},IMP-${i.toString(16).padStart(6, '0')}-ABCDE`,
      ).join('\n') + '\n',
    );
    const t0 = performance.now();
    await run(
      process.execPath,
      [
        'bin/proofmark.js',
        'records',
        'import',
        file,
        '--kind',
        'licence',
        '--sku',
        'SKU-IMP',
        '--product',
        'Stellar Frontier',
      ],
      { env: { ...process.env, PROOFMARK_API: server.url, PROOFMARK_API_KEY: apiKey }, maxBuffer: 1 << 26 },
    );
    const importMs = performance.now() - t0;
    const importRps = Math.round(lines / (importMs / 1000));
    progress(
      `import: ${lines} lines in ${Math.round(importMs)} ms, ${importRps} records/s (process start included)`,
    );
    return {
      apiRecordsPerSecond: apiRps,
      importLines: lines,
      importMs: Math.round(importMs),
      importRecordsPerSecond: importRps,
      ratio: Math.round((importRps / apiRps) * 100) / 100,
    };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface UniquenessResult {
  /** Records/s through registerRecords per round, with and without the unique keys. */
  index: { with: number[]; without: number[] };
  imports: Awaited<ReturnType<typeof importVsApi>>;
  targets: Target[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function runUniqueness(opts: CaseOptions): Promise<UniquenessResult> {
  const index = await indexCost(opts.quick ? 5 : 10, opts.runs ?? 2);
  const imports = await importVsApi(opts.quick ? 20_000 : 100_000, opts.quick ? 10 : 30);
  const withIndex = median(index.with);
  const without = median(index.without);
  return {
    index,
    imports,
    targets: [
      {
        id: 'import-rate',
        case: 'uniqueness',
        target: 'proofmark records import of 100,000 lines at no less than half the API ingest rate',
        figure:
          `${imports.importRecordsPerSecond.toLocaleString('en')} records/s for ` +
          `${imports.importLines.toLocaleString('en')} lines = ${imports.ratio}x the API's ` +
          `${imports.apiRecordsPerSecond.toLocaleString('en')} records/s`,
        pass: imports.ratio >= 0.5,
        ...(imports.importLines < 100_000 && { provisional: true }),
      },
      {
        id: 'index-cost',
        case: 'uniqueness',
        target: 'the blind index cost on registration (reported)',
        figure:
          `${withIndex.toLocaleString('en')} records/s with the index vs ` +
          `${without.toLocaleString('en')} without (medians; ${Math.round((1 - withIndex / without) * 100)}% slower)`,
        pass: null,
      },
    ],
  };
}

/** The report's section. */
export const uniquenessReport: CaseReport<UniquenessResult> = {
  title: 'One key, one sale',
  reportedTargets: ['index-cost'],
  section: (r) =>
    [
      table(
        ['registration (registerRecords, SQLite)', 'records/s per round'],
        [
          ['with the blind index', r.index.with.map((x) => num(x)).join(', ')],
          ['without it', r.index.without.map((x) => num(x)).join(', ')],
        ],
      ),
      '',
      table(
        ['API ingest records/s', 'import lines', 'import ms', 'import records/s', 'ratio'],
        [
          [
            num(r.imports.apiRecordsPerSecond),
            num(r.imports.importLines),
            num(r.imports.importMs),
            num(r.imports.importRecordsPerSecond),
            String(r.imports.ratio),
          ],
        ],
      ),
      '',
      '- The import is a child process (`proofmark records import`, process start included) against the same ' +
        'server whose API ingest (4 clients of 1,000-record requests) was measured just before.',
    ].join('\n'),
};

if (isMain(import.meta.url)) await caseMain(runUniqueness);
