/**
 * Load without loss (issue 7): a real `proofmark serve` process (embedded SQLite, embedded dev chain,
 * small batches so sealing and anchoring run all the time) takes LOAD_SECONDS (default 30) of mixed
 * traffic from several keep-alive workers (load-traffic.ts). Afterwards everything reconciles exactly:
 * what was acknowledged is what the database holds, every event sits in exactly one final batch, each
 * batch is anchored exactly once on chain with its stored root and leaf count, sampled proofs verify
 * against the chain, refused requests wrote nothing and every record that was answered a verdict has
 * one stored scan (every worker is one address: one scanner).
 *
 * Memory: the process's RSS is sampled from outside (/proc) and must stay bounded and settle. RSS alone
 * cannot tell a leak of a few MB from the V8 heap's slow sawtooth on a busy 2-core machine, so the
 * process also runs with --expose-gc and a tiny preload that, on SIGUSR2, runs a full GC and prints the
 * live heap: what survives the last two thirds of the run must fit in what the bounded caches may hold.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyBundleOnChain } from '../../src/chain/bundle-check.ts';
import { admitMerchant } from '../../src/client/admit.ts';
import { connectRegistry } from '../../src/chain/registry.ts';
import type { Database } from '../../src/storage/sql/schema.ts';
import { TEST_EVIDENCE } from '../helpers/client.ts';
import { freePort } from '../helpers/net.ts';
import { spawnServe, type ServeProcess } from '../helpers/serve-process.ts';
import { waitFor } from '../helpers/wait.ts';
import { checkAnchoredExactlyOnce, pool } from './cluster.ts';
import { newTally, runTraffic, type LoadMerchant, type OwnedRecord, type Tally } from './load-traffic.ts';

const LOAD_SECONDS = Number(process.env.LOAD_SECONDS ?? 30);
const WORKERS = 8;
const SETTLE_MS = 5000;
const PROOF_SAMPLE = 200;
/**
 * Live heap the last two thirds of the run may add, after a full GC: a little for late-compiled code,
 * a generous size per proof the bounded proof cache may have taken in (at most 9 siblings, its key and
 * Map slot) and per batch (its block in the in-process dev chain). Runs without a leak added 1.2-1.7 MB
 * against 5-7 MB allowed; a leak that kept only the JSON text of each registration (about 300 bytes a
 * record, injected with a second --import) added 7.3 and 10.4 MB and failed both times.
 */
const HEAP_SLACK_MB = 3;
const PROOF_ENTRY_BYTES = 2048;
const BATCH_BYTES = 16 * 1024;
const ADMIN_TOKEN = 'load-admin-token-0123456789abcdef';
/** Preloaded into the serve process: on SIGUSR2, a full GC, then memoryUsage() as one stderr line. */
const GC_PROBE = `data:text/javascript,${encodeURIComponent(
  "process.on('SIGUSR2', () => { gc(); gc(); process.stderr.write('gc-probe ' + JSON.stringify(process.memoryUsage()) + '\\n'); });",
)}`;

interface LoadServe extends ServeProcess {
  pid: number;
  dataDir: string;
  /** heapUsed (bytes) of each gc-probe answer, in order. */
  heapProbes: number[];
}

async function startServe(): Promise<LoadServe> {
  const dataDir = mkdtempSync(join(tmpdir(), 'proofmark-load-'));
  const heapProbes: number[] = [];
  const env = {
    DATA_DIR: dataDir,
    DEV_CHAIN_PORT: String(await freePort()),
    ADMIN_TOKEN,
    BATCH_MAX_AGE_MS: '500',
    BATCH_MAX_LEAVES: '500',
    CHAIN_POLL_MS: '100',
    // Limits that would throttle the run: 0 turns a rate limit off (the secret check's cannot be off and
    // is not used here); the backlog bound stays far above what the run leaves pending.
    RATE_LIMIT_VERIFY_PER_MINUTE: '0',
    RATE_LIMIT_MERCHANT_PER_MINUTE: '0',
    RATE_LIMIT_SECRET_PER_MINUTE: '1000000000',
    MAX_PENDING_EVENTS: '1000000',
  };
  const serve = await spawnServe(env, 'load', {
    nodeArgs: ['--expose-gc', '--import', GC_PROBE],
    onStderrLine: (line) => {
      if (line.startsWith('gc-probe ')) heapProbes.push(JSON.parse(line.slice(9)).heapUsed as number);
    },
  });
  const loaded = Object.assign(serve, { pid: serve.child.pid!, dataDir, heapProbes });
  await waitFor(
    'proofmark serve to lead the batcher',
    async () => (await api<{ leader: boolean }>(loaded, 'GET', '/healthz')).body.leader,
    60_000,
    100,
  );
  return loaded;
}

function api<T = unknown>(
  serve: LoadServe,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  return serve.http<T>(method, path, token, body);
}

/** The serve process's live heap right after a full GC (MB). */
async function liveHeapMb(serve: LoadServe): Promise<number> {
  const answered = serve.heapProbes.length;
  serve.child.kill('SIGUSR2');
  await waitFor('the gc probe to answer', () => serve.heapProbes.length > answered, 30_000, 20);
  return serve.heapProbes.at(-1)! / 1024 / 1024;
}

/** Resident memory of a process from the kernel (MB): now, and the high-water mark. */
function residentMb(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)![1]);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/** CPU time a process has used (user + system), in seconds. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Samples a process's RSS every `everyMs` (ms since `t0`, MB) until stopped or the process is gone. */
function sampleRss(pid: number, t0: number, everyMs = 200) {
  const samples: Array<{ t: number; mb: number }> = [];
  const take = () => {
    try {
      samples.push({ t: Date.now() - t0, mb: residentMb(pid).rss });
    } catch {
      clearInterval(timer); // the process is gone; the test says why
    }
  };
  const timer = setInterval(take, everyMs);
  take();
  return { samples, stop: () => clearInterval(timer) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (n: number) => `${n.toFixed(1)} MB`;
const percent = (x: number) => `${(x * 100).toFixed(0)}%`;
function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function createMerchants(serve: LoadServe, count: number): Promise<LoadMerchant[]> {
  const admin = serve.client(ADMIN_TOKEN);
  const merchants: LoadMerchant[] = [];
  for (let i = 0; i < count; i++) {
    const { id, apiKey } = await admitMerchant(admin, { name: `Load Merchant ${i}` }, TEST_EVIDENCE);
    merchants.push({ id, apiKey });
  }
  return merchants;
}

/** What the run measured, besides the tally of what was acknowledged. */
interface Run {
  tally: Tally;
  runMs: number;
  samples: Array<{ t: number; mb: number }>;
  heap: { before: number; warm: number; settled: number };
  /** The tally and the chain when the warm heap was taken: what the caches may grow from. */
  atWarm: { proofsCacheable: number; nextBatchId: number };
  cpu: { server: number; generator: number };
  /** Batches sealed but not yet final, and acknowledged events not yet in a final batch, as the run ended. */
  lagAtEnd: { batches: number; events: number };
}

/** The traffic, with RSS sampled throughout, the live heap a third of the way in and after the idle. */
async function loadAndMeasure(serve: LoadServe, merchants: LoadMerchant[]): Promise<Run> {
  const before = await liveHeapMb(serve);
  const t0 = Date.now();
  const [serverCpu0, ownCpu0] = [cpuSeconds(serve.pid), process.cpuUsage()];
  const rss = sampleRss(serve.pid, t0);
  try {
    const tally = newTally();
    const durationMs = LOAD_SECONDS * 1000;
    const traffic = runTraffic({ baseUrl: serve.url, merchants, workers: WORKERS, durationMs }, tally);
    await sleep(durationMs / 3);
    const chain = await api<{ nextBatchId: number }>(serve, 'GET', '/v1/chain');
    const atWarm = { proofsCacheable: tally.proofsCacheable, nextBatchId: chain.body.nextBatchId };
    const warm = await liveHeapMb(serve);
    await traffic;
    const runMs = Date.now() - t0;
    const batchesAtEnd = await allBatches(serve);
    const finalLeaves = batchesAtEnd.filter((b) => b.status === 'final').reduce((a, b) => a + b.leafCount, 0);
    const lagAtEnd = {
      batches: batchesAtEnd.filter((b) => b.status !== 'final').length,
      events:
        [...tally.ack.events.values()].reduce((a, seqs) => a + seqs.length, tally.ack.records.size) -
        finalLeaves,
    };
    const ownCpu = process.cpuUsage(ownCpu0);
    const cpu = {
      server: (cpuSeconds(serve.pid) - serverCpu0) / (runMs / 1000),
      generator: (ownCpu.user + ownCpu.system) / 1000 / runMs,
    };
    await sleep(SETTLE_MS);
    rss.stop();
    const settled = await liveHeapMb(serve);
    return { tally, runMs, samples: rss.samples, heap: { before, warm, settled }, atWarm, cpu, lagAtEnd };
  } finally {
    rss.stop();
  }
}

function reportTraffic(run: Run): void {
  const { tally } = run;
  const seconds = run.runMs / 1000;
  const outcomes = [...tally.outcomes].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k}: ${n}`);
  const latencies = [...tally.latenciesMs].sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  const lifecycle = [...tally.ack.events.values()].reduce((a, seqs) => a + seqs.length, 0);
  const ended = (state: string) => tally.records.filter((r) => r.state === state).length;
  console.log(
    `load: ${WORKERS} workers, 3 merchants, ${tally.requests} requests in ${seconds.toFixed(1)} s ` +
      `(${(tally.requests / seconds).toFixed(0)}/s; latency p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, ` +
      `max ${latencies.at(-1)} ms; server CPU ${percent(run.cpu.server)}, load generator CPU ` +
      `${percent(run.cpu.generator)}): ${outcomes.join(', ')}. Acknowledged ${tally.ack.records.size} ` +
      `records (${(tally.ack.records.size / seconds).toFixed(0)}/s) and ${lifecycle} lifecycle events ` +
      `(${ended('revoked')} records revoked, ${ended('refunded')} refunded); ${tally.bundlesVerified} ` +
      `anchored bundles verified in flight; verdicts ${JSON.stringify(Object.fromEntries(tally.verdicts))}; ` +
      `as the run ended ${run.lagAtEnd.batches} sealed batches and ${run.lagAtEnd.events} events were not yet final`,
  );
}

interface ApiBatch {
  id: number;
  root: string;
  leafCount: number;
  status: string;
  txHash: string | null;
}

async function allBatches(serve: LoadServe): Promise<ApiBatch[]> {
  const out: ApiBatch[] = [];
  for (let after = 0; ;) {
    const res = await api<{ batches: ApiBatch[]; next: number | null }>(
      serve,
      'GET',
      `/v1/batches?after=${after}&limit=1000`,
    );
    expect(res.status).toBe(200);
    out.push(...res.body.batches);
    if (res.body.next === null) return out;
    after = res.body.next;
  }
}

function openReadOnly(dataDir: string): Kysely<Database> {
  const sqlite = new SQLite(join(dataDir, 'proofmark.sqlite'), { readonly: true, fileMustExist: true });
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
}

describe('load without loss: mixed traffic on a serve process while batches seal and anchor', () => {
  let serve: LoadServe | undefined;
  afterAll(async () => {
    if (serve && serve.child.exitCode === null && serve.child.signalCode === null)
      serve.child.kill('SIGKILL');
    await serve?.exited;
    if (serve) rmSync(serve.dataDir, { recursive: true, force: true });
  });

  it(
    `${LOAD_SECONDS} s of registrations, events, proofs and verdicts reconcile exactly; memory settles`,
    async () => {
      serve = await startServe();
      const s = serve;
      const merchants = await createMerchants(s, 3);
      const chainInfo = (await api<{ rpcUrl: string; contract: string }>(s, 'GET', '/v1/chain')).body;
      expect(chainInfo.rpcUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

      const run = await loadAndMeasure(s, merchants);
      const { tally } = run;
      reportTraffic(run);
      expect(tally.failures.slice(0, 20), `${tally.failures.length} failures`).toEqual([]);
      // The mix really was mixed: every kind of request ran and was answered as expected.
      for (const outcome of [
        ...['register 201', 'replay 200', 'conflict 409', 'malformed 400'],
        ...['event 201', 'event-impossible 409', 'event-foreign 403'],
        ...['proofs 200', 'verify 200', 'page 200', 'verify-unknown 404', 'page-unknown 404'],
      ])
        expect(tally.outcomes.get(outcome) ?? 0, outcome).toBeGreaterThan(0);
      expect(tally.bundlesVerified).toBeGreaterThan(0);

      // Seal what is left; wait until every batch is final and they hold every acknowledged event.
      const expectedEvents = [...tally.ack.events.values()].reduce(
        (a, seqs) => a + seqs.length,
        tally.ack.records.size,
      );
      const sealStarted = Date.now();
      expect((await api(s, 'POST', '/v1/admin/batches/seal', ADMIN_TOKEN)).status).toBe(200);
      const batches = await waitFor(
        'every batch final',
        async () => {
          const all = await allBatches(s);
          const leaves = all.reduce((a, b) => a + b.leafCount, 0);
          return all.every((b) => b.status === 'final') && leaves === expectedEvents && all;
        },
        60_000,
        100,
      );
      const sealToFinalMs = Date.now() - sealStarted;

      // The database (read-only, beside the running process), the API and the chain's logs agree.
      const live = openReadOnly(s.dataDir);
      try {
        const anchored = await checkAnchoredExactlyOnce(
          live,
          chainInfo.rpcUrl,
          chainInfo.contract,
          tally.ack,
        );
        expect(anchored).toMatchObject({ batches: batches.length, leaves: expectedEvents });
        const stored = await live.selectFrom('batches').selectAll().orderBy('id').execute();
        expect(batches.map((b) => [b.id, b.root, b.leafCount, b.txHash])).toEqual(
          stored.map((b) => [b.id, b.root, b.leaf_count, b.tx_hash]),
        );
      } finally {
        await live.destroy();
      }
      const chainNow = await api<{ nextBatchId: number }>(s, 'GET', '/v1/chain');
      expect(chainNow.body.nextBatchId - 1).toBe(batches.length);

      const sampled = await checkSampledProofs(s, chainInfo, tally);
      expect((await api(s, 'GET', '/healthz')).body).toMatchObject({ leader: true, anchoringHalted: null });
      console.log(
        `load: seal to final ${sealToFinalMs} ms; ${batches.length} batches, ${expectedEvents} events; ` +
          `${sampled.bundles} bundles of ${sampled.records} sampled records verified on chain`,
      );

      // A graceful stop flushes the scan counts; then the files are read as the process left them.
      s.child.kill('SIGTERM');
      expect((await s.exited).code).toBe(0);
      const db = openReadOnly(s.dataDir);
      try {
        await reconcileStored(db, tally, expectedEvents);
      } finally {
        await db.destroy();
      }
      checkNothingLeaked(s, merchants);
      checkMemory(run, batches.length);
    },
    LOAD_SECONDS * 1000 + 150_000,
  );
});

/**
 * Revoked, refunded and eventful records first, the rest spread over the run: every event's bundle
 * verifies against the chain, and the verdict is final (each verdict is a scan to reconcile).
 */
async function checkSampledProofs(
  serve: LoadServe,
  chainInfo: { rpcUrl: string; contract: string },
  tally: Tally,
): Promise<{ records: number; bundles: number }> {
  const chosen = new Set<OwnedRecord>();
  const take = (from: OwnedRecord[], upTo: number) => {
    const step = Math.max(1, Math.floor(from.length / upTo));
    for (let i = 0; i < from.length && chosen.size < upTo; i += step) chosen.add(from[i]!);
  };
  take(
    tally.records.filter((r) => r.state !== 'active'),
    PROOF_SAMPLE / 4,
  );
  take(
    tally.records.filter((r) => r.state === 'active' && r.head > 0),
    PROOF_SAMPLE / 2,
  );
  take(tally.records, PROOF_SAMPLE);
  expect([...chosen].filter((r) => r.state !== 'active').length).toBeGreaterThan(0);

  const chain = await connectRegistry(chainInfo);
  let verified = 0;
  try {
    await pool(
      4,
      [...chosen].map((r) => async () => {
        const res = await api<{ bundles: unknown[] }>(serve, 'GET', `/v1/records/${r.id}/proofs`);
        expect(res.status).toBe(200);
        expect(res.body.bundles).toHaveLength(r.head + 1);
        for (const bundle of res.body.bundles) {
          const result = await verifyBundleOnChain(chain, bundle, 1);
          expect(result.valid ? 'valid' : result.reason).toBe('valid');
          verified++;
        }
        const verdict = await api<{ verdict: string }>(serve, 'GET', `/v1/verify/${r.id}`);
        expect(verdict.status).toBe(200);
        tally.scans.set(r.id, (tally.scans.get(r.id) ?? 0) + 1);
        expect(verdict.body.verdict).toBe(r.state === 'active' ? 'genuine' : 'revoked');
      }),
    );
  } finally {
    chain.close();
  }
  return { records: chosen.size, bundles: verified };
}

/** The database as the stopped process left it, against what the workers were told. */
async function reconcileStored(db: Kysely<Database>, tally: Tally, expectedEvents: number): Promise<void> {
  const count = async (table: 'records' | 'events') => {
    const row = await db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };
  expect(await count('records')).toBe(tally.ack.records.size);
  expect(await count('events')).toBe(expectedEvents);

  // Each record's state is exactly what its worker's acknowledged events made it.
  const rows = await db
    .selectFrom('records')
    .select(['id', 'external_id', 'merchant_id', 'head_seq', 'state', 'sold', 'activated'])
    .execute();
  const stored = new Map(
    rows.map((r) => [r.id, [r.external_id, r.merchant_id, r.head_seq, r.state, !!r.sold, !!r.activated]]),
  );
  const differing = tally.records
    .map((r) => ({ id: r.id, told: [r.externalId, r.merchantId, r.head, r.state, r.sold, r.activated] }))
    .filter(({ id, told }) => JSON.stringify(stored.get(id)) !== JSON.stringify(told))
    .map(({ id, told }) => ({ id, told, stored: stored.get(id) }));
  expect(differing.slice(0, 5), `${differing.length} records differ`).toEqual([]);

  // Refused registrations wrote nothing.
  expect(tally.refusedExternalIds.size).toBeGreaterThan(0);
  expect(rows.filter((r) => tally.refusedExternalIds.has(r.external_id))).toEqual([]);

  // Every record answered a verdict has one scan, and no other has any: the workers are one address,
  // so one scanner, however many verdicts it asked for.
  const scans = await db.selectFrom('scans').select(['record_id', 'count']).execute();
  expect(new Map(scans.map((x) => [x.record_id, Number(x.count)]))).toEqual(
    new Map([...tally.scans.keys()].map((id) => [id, 1])),
  );
}

/** Secrets and keys reach neither the database file nor the log, and nothing was logged as an error. */
function checkNothingLeaked(serve: LoadServe, merchants: LoadMerchant[]): void {
  const wal = join(serve.dataDir, 'proofmark.sqlite-wal');
  const stored = Buffer.concat([
    readFileSync(join(serve.dataDir, 'proofmark.sqlite')),
    existsSync(wal) ? readFileSync(wal) : Buffer.alloc(0),
  ]);
  const log = serve.output.join('');
  for (const needle of ['SECRET-load-', ...merchants.map((m) => m.apiKey), ADMIN_TOKEN]) {
    expect(stored.includes(needle), `${needle.slice(0, 12)}… in the database file`).toBe(false);
    expect(log.includes(needle), `${needle.slice(0, 12)}… in the log`).toBe(false);
  }
  expect(log.split('\n').filter((line) => /"level":(50|60)/.test(line))).toEqual([]);
}

/**
 * RSS: the second half of the run does not climb far past the first, and once the load stops it does
 * not keep growing. Live heap: what survived the last two thirds of the run and the idle period fits
 * in what the proof cache and the chain's new blocks may hold, plus a little.
 */
function checkMemory(run: Run, batches: number): void {
  const during = run.samples.filter((x) => x.t <= run.runMs);
  const firstHalf = during.filter((x) => x.t < run.runMs / 2).map((x) => x.mb);
  const secondHalf = during.filter((x) => x.t >= run.runMs / 2).map((x) => x.mb);
  const idle = run.samples.filter((x) => x.t > run.runMs + SETTLE_MS - 2000).map((x) => x.mb);
  const [firstMax, secondMax, settled] = [Math.max(...firstHalf), Math.max(...secondHalf), median(idle)];
  const proofCacheMb =
    ((run.tally.proofsCacheable - run.atWarm.proofsCacheable) * PROOF_ENTRY_BYTES) / 2 ** 20;
  const blocksMb = ((batches - (run.atWarm.nextBatchId - 1)) * BATCH_BYTES) / 2 ** 20;
  const allowedMb = HEAP_SLACK_MB + proofCacheMb + blocksMb;
  const { heap } = run;
  console.log(
    `load: RSS first half median ${mb(median(firstHalf))} max ${mb(firstMax)}; second half median ` +
      `${mb(median(secondHalf))} max ${mb(secondMax)}; settled ${mb(settled)} (every 3 s: ` +
      `${run.samples
        .filter((_, i) => i % 15 === 0)
        .map((x) => x.mb.toFixed(0))
        .join(' ')}). Live heap after a full GC: before ${mb(heap.before)}, a third in ${mb(heap.warm)}, ` +
      `settled ${mb(heap.settled)} (growth allowed ${mb(allowedMb)})`,
  );
  expect(secondMax).toBeLessThanOrEqual(firstMax * 1.25);
  expect(settled).toBeLessThanOrEqual(Math.max(...during.map((x) => x.mb)) * 1.1);
  expect(heap.settled - heap.warm).toBeLessThanOrEqual(allowedMb);
}
