/**
 * Case 7, item directory (src/core/directory, src/service/directory.ts): what keeping the directory
 * costs at seal, what it stores, and what its proofs weigh and cost to serve.
 *
 * In SQLite (a temporary directory): a directory of 1,000,000 records (quick: 100,000) is built by
 * sealing issuance events in batches of 100,000 (quick: 10,000) with the directory; then, in each
 * round, one batch of that size (a fifth new records, the rest events on records already there, some
 * ending them) is sealed without the directory (the baseline, its directory caught up afterwards by
 * catchUpDirectory), and another by the same one-transaction seal with the directory in it. The
 * directory is built up by sealBatch itself (in steps, the directory in its last transaction). Then state
 * proofs are served from the store (latest, as of batch 1, and of absent records).
 *
 * In memory (a child process): 10,000,000 records (quick: 1,000,000) through the same pure update
 * code, for proof sizes at that scale; building that many in SQLite would take longer than the suite.
 *
 * The events are a synthetic fixture written straight into the `events` table, as proof-lookup does
 * (foreign keys off for the fixture only, no `records` rows): nothing sealing or proving reads
 * records.
 *
 * Alone: `npx tsx bench/cases/directory.ts [--quick] [--runs n] [--json-out file]`.
 */
import { sealBatch, sealedRow } from '../../src/service/sealing.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import {
  bytesToHex,
  DirectoryUpdate,
  EMPTY_DIRECTORY_ROOT,
  encodeDirectoryProof,
  keccak256,
  MerkleTree,
  proveDirectoryKey,
  recordKey,
  verifyDirectoryProof,
  ZERO32,
  type Hex,
} from '../../src/core/index.ts';
import { type ServiceContext, createServiceContext } from '../../src/service/context.ts';
import { catchUpDirectory, stateProof, updateDirectory } from '../../src/service/directory.ts';
import { ServerKey } from '../../src/service/server-key.ts';
import type { BatchRow, EventRow } from '../../src/storage/rows.ts';
import { openStorage, type SqlStorage } from '../../src/storage/sql/open.ts';
import { caseMain, type CaseOptions, type CaseReport, type Target } from '../lib/case.ts';
import { isMain, lastJsonLine, runTs } from '../lib/child.ts';
import { progress } from '../lib/log.ts';
import { load1 } from '../lib/machine.ts';
import { num, spread, table } from '../lib/markdown.ts';
import { Prng } from '../lib/prng.ts';
import { latency, round, roundSummary, summarize, type Latency, type Summary } from '../lib/stats.ts';

const ROWS_PER_INSERT = 3000; // 9 columns: under SQLite's 32,766 bound parameters
const NEW_SHARE = 0.2;
const ENDING_SHARE = 0.05;
const PROOF_SAMPLES = { latest: 2000, old: 500, absent: 500 };
const MEMORY_SAMPLES = 2000;
const PROOF_SIZE_TARGET = 1200;

export interface SealPair {
  round: number;
  /** The one-transaction seal without the directory. */
  baselineMs: number;
  /** catchUpDirectory right after it: the same batch's directory in a transaction of its own. */
  catchUpMs: number;
  /** The seal with the directory in its transaction (another batch of the same size and mix). */
  withDirectoryMs: number;
  directoryRecords: number;
  loadBefore: number;
}

export interface VersionStorage {
  version: number;
  events: number;
  records: number;
  pages: number;
  /** Page bytes plus path bytes, as handed to the store. */
  logicalBytes: number;
  /** Growth of the directory_pages b-tree in the database file (SQLite dbstat). */
  fileBytes: number;
}

export interface SizeStats {
  n: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

export interface MemoryScale {
  records: number;
  /** Wall ms of each chunk's update (chunks of `chunk` new records). */
  chunkMs: number[];
  chunk: number;
  pages: number;
  present: SizeStats;
  absent: SizeStats;
}

export interface DirectoryResult {
  records: number;
  batchEvents: number;
  build: { batches: number; sealMs: Summary };
  pairs: SealPair[];
  baselineMs: Summary;
  withDirectoryMs: Summary;
  catchUpMs: Summary;
  /** Median with-directory seal / median baseline seal. */
  ratio: number;
  /** catchUpDirectory's median per event of the batch, microseconds. */
  usPerEvent: number;
  storage: VersionStorage[];
  directoryFileMB: number;
  databaseMB: number;
  serving: { latest: Latency; old: Latency; absent: Latency; proofsPerSecond: number };
  sizes: { present: SizeStats; absent: SizeStats };
  memory: MemoryScale | null;
  notes: string[];
  targets: Target[];
}

/** Record i's id: fixed width, so ids sort as their numbers. */
const recordId = (i: number) => `rec${i.toString(36).padStart(6, '0')}`;

/** Every record's head in the fixture: its last seq, whether it ended, its last leaf. */
class Heads {
  readonly seq: Uint32Array;
  readonly ended: Uint8Array;
  readonly leaves: Uint8Array;
  count = 0;

  constructor(capacity: number) {
    this.seq = new Uint32Array(capacity);
    this.ended = new Uint8Array(capacity);
    this.leaves = new Uint8Array(capacity * 32);
  }

  leaf(i: number): Hex {
    return bytesToHex(this.leaves.subarray(i * 32, i * 32 + 32));
  }
}

/** Content as registration writes it (about 350 bytes of canonical JSON). */
function contentOf(i: number, seq: number, type: string, at: string, prng: Prng): string {
  return JSON.stringify({
    at,
    data: seq === 0 ? undefined : { channel: 'web' },
    kind: 'licence',
    merchantId: 'bench-merchant-000000',
    metadata: { edition: 'deluxe', platform: 'steam', region: 'EU' },
    productName: 'Stellar Frontier: Deluxe Edition (PC, global key)',
    salt: bytesToHex(prng.bytes(32)),
    serial: `SN-${i.toString(36).padStart(8, '0')}`,
    sku: `SKU-GAME-${i % 97}`,
    type,
  });
}

/**
 * Writes one batch's worth of pending events: `fresh` new records' issuances, then events on
 * `count - fresh` distinct records already issued and not ended (a few ending them).
 */
async function writeEvents(
  db: SqlStorage['db'],
  heads: Heads,
  count: number,
  fresh: number,
  prng: Prng,
  clock: { ms: number },
): Promise<void> {
  const rows: EventRow[] = [];
  const push = (i: number, seq: number, type: string) => {
    const at = new Date(clock.ms++).toISOString();
    const leaf = prng.bytes(32);
    rows.push({
      record_id: recordId(i),
      seq,
      type,
      content: contentOf(i, seq, type, at, prng),
      leaf: bytesToHex(leaf),
      prev_leaf: seq === 0 ? ZERO32 : heads.leaf(i),
      created_at: at,
      batch_id: null,
      leaf_index: null,
    });
    heads.seq[i] = seq;
    heads.leaves.set(leaf, i * 32);
    if (type === 'revoked') heads.ended[i] = 1;
  };
  const picked = new Set<number>();
  for (let n = 0; n < count - fresh && picked.size < heads.count; n++) {
    let i = prng.int(heads.count);
    while (picked.has(i) || heads.ended[i]) i = (i + 1) % heads.count;
    picked.add(i);
    push(i, heads.seq[i]! + 1, prng.int(1000) < ENDING_SHARE * 1000 ? 'revoked' : 'sold');
  }
  for (let n = 0; n < fresh; n++) push(heads.count++, 0, 'issued');
  await sql`PRAGMA foreign_keys = OFF`.execute(db);
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
      await trx
        .insertInto('events')
        .values(rows.slice(i, i + ROWS_PER_INSERT))
        .execute();
    }
  });
  await sql`PRAGMA foreign_keys = ON`.execute(db);
}

/**
 * The seal in one transaction, with or without updateDirectory: sealBatch takes a batch this large in
 * steps and now keeps the directory itself, so the two are written out here, alike but for the
 * directory, to measure what it adds. (The directory is built up with sealBatch itself.)
 */
async function sealWithDirectory(
  ctx: ServiceContext,
  maxLeaves: number,
  directory = true,
): Promise<BatchRow> {
  return ctx.storage.transaction(async (tx) => {
    const batchId = await tx.batches.nextId();
    const leaves = await tx.events.assignOldestUnbatched(batchId, maxLeaves);
    const tree = MerkleTree.fromPacked(leaves);
    const sealed = { root: tree.root, levels: tree.levels };
    const batch = sealedRow(ctx, batchId, sealed);
    await tx.batches.insertSealed(batch, sealed);
    if (directory) await updateDirectory(tx, batchId, await tx.events.ofBatch(batchId));
    return batch;
  });
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await work();
  return { value, ms: performance.now() - t0 };
}

function sizeStats(sizes: readonly number[]): SizeStats {
  const sorted = [...sizes].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return {
    n: sorted.length,
    mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length, 1),
    p50: at(0.5),
    p99: at(0.99),
    max: sorted.at(-1)!,
  };
}

async function directoryFileBytes(db: SqlStorage['db']): Promise<number> {
  const { rows } = await sql<{
    n: number | null;
  }>`SELECT sum(pgsize) AS n FROM dbstat WHERE name = 'directory_pages'`.execute(db);
  return Number(rows[0]?.n ?? 0);
}

async function versionStorage(
  storage: SqlStorage,
  version: number,
  events: number,
  fileBytes: number,
): Promise<VersionStorage> {
  const row = await storage.db
    .selectFrom('directory_pages')
    .select((eb) => [
      eb.fn.countAll<number>().as('pages'),
      sql<number>`sum(length(page)) + sum(length(path))`.as('bytes'),
    ])
    .where('version', '=', version)
    .executeTakeFirstOrThrow();
  const records = (await storage.directory.get(version))?.record_count ?? 0;
  return {
    version,
    events,
    records,
    pages: Number(row.pages),
    logicalBytes: Number(row.bytes),
    fileBytes,
  };
}

/** Times `count` stateProof calls one by one, checking each proof against its root outside the timing. */
async function serve(
  ctx: ServiceContext,
  ids: readonly string[],
  asOf: number | undefined,
): Promise<{ latency: Latency; sizes: number[]; ms: number }> {
  const times: number[] = [];
  const proofs = [];
  const t0 = performance.now();
  for (const id of ids) {
    const s = performance.now();
    proofs.push(await stateProof(ctx, id, asOf));
    times.push(performance.now() - s);
  }
  const ms = performance.now() - t0;
  for (const p of proofs) {
    if (verifyDirectoryProof(p.root, p.recordKey, p.proof).status === 'invalid') {
      throw new Error(`state proof of ${p.recordKey} does not check`);
    }
  }
  return { latency: latency(times), sizes: proofs.map((p) => (p.proof.length - 2) / 2), ms };
}

export async function runDirectory(opts: CaseOptions): Promise<DirectoryResult> {
  const records = opts.quick ? 100_000 : 1_000_000;
  const batchEvents = opts.quick ? 10_000 : 100_000;
  const memoryRecords = opts.quick ? 1_000_000 : 10_000_000;
  const rounds = opts.runs ?? 3;
  const dataDir = mkdtempSync(join(tmpdir(), 'proofmark-bench-directory-'));
  const storage = await openStorage({ dataDir });
  const ctx = createServiceContext({
    storage,
    keys: ServerKey.generate(),
    publicBaseUrl: 'http://proofmark.bench',
  });
  const prng = new Prng(0xd1_0001);
  const clock = { ms: Date.parse('2026-01-01T00:00:00Z') };
  const heads = new Heads(records + 2 * rounds * batchEvents);
  const storageRows: VersionStorage[] = [];
  try {
    const buildMs: number[] = [];
    for (let built = 0; built < records; built += batchEvents) {
      await writeEvents(storage.db, heads, batchEvents, batchEvents, prng, clock);
      const before = await directoryFileBytes(storage.db);
      const { value: sealed, ms } = await timed(() => sealBatch(ctx, batchEvents));
      const batch = sealed!;
      buildMs.push(ms);
      storageRows.push(
        await versionStorage(storage, batch.id, batchEvents, (await directoryFileBytes(storage.db)) - before),
      );
      progress(
        `directory: built ${num(built + batchEvents)} records (batch ${batch.id} sealed with its directory in ${Math.round(ms)} ms, load ${load1()})`,
      );
    }

    const pairs: SealPair[] = [];
    const fresh = Math.round(batchEvents * NEW_SHARE);
    for (let r = 0; r < rounds; r++) {
      const loadBefore = load1();
      const directoryRecords = heads.count;
      const runBaseline = async () => {
        await writeEvents(storage.db, heads, batchEvents, fresh, prng, clock);
        const seal = await timed(() => sealWithDirectory(ctx, batchEvents, false));
        const catchUp = await timed(() => catchUpDirectory(ctx));
        if (catchUp.value !== 1) throw new Error(`caught up ${catchUp.value} batches, not 1`);
        return { sealMs: seal.ms, catchUpMs: catchUp.ms };
      };
      const runWith = async () => {
        await writeEvents(storage.db, heads, batchEvents, fresh, prng, clock);
        const before = await directoryFileBytes(storage.db);
        const { value: batch, ms } = await timed(() => sealWithDirectory(ctx, batchEvents));
        storageRows.push(
          await versionStorage(
            storage,
            batch.id,
            batchEvents,
            (await directoryFileBytes(storage.db)) - before,
          ),
        );
        return ms;
      };
      // Alternate which goes first, so drift in the machine's load falls on both alike.
      let baseline: { sealMs: number; catchUpMs: number };
      let withDirectoryMs: number;
      if (r % 2 === 0) {
        baseline = await runBaseline();
        withDirectoryMs = await runWith();
      } else {
        withDirectoryMs = await runWith();
        baseline = await runBaseline();
      }
      pairs.push({
        round: r + 1,
        baselineMs: round(baseline.sealMs, 1),
        catchUpMs: round(baseline.catchUpMs, 1),
        withDirectoryMs: round(withDirectoryMs, 1),
        directoryRecords,
        loadBefore,
      });
      progress(
        `directory round ${r + 1}/${rounds}: seal ${Math.round(baseline.sealMs)} ms, with directory ${Math.round(withDirectoryMs)} ms, catch-up ${Math.round(baseline.catchUpMs)} ms (load ${loadBefore})`,
      );
    }

    progress('directory: serving state proofs from SQLite');
    const pick = (n: number) => Array.from({ length: n }, () => recordId(prng.int(heads.count)));
    const absentIds = Array.from({ length: PROOF_SAMPLES.absent }, (_, i) => `absent-${i}`);
    await serve(ctx, pick(200), undefined); // warm-up: statement cache, code
    const latest = await serve(ctx, pick(PROOF_SAMPLES.latest), undefined);
    const old = await serve(ctx, pick(PROOF_SAMPLES.old), 1);
    const absent = await serve(ctx, absentIds, undefined);

    const size = await sql<{
      n: number;
    }>`SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()`.execute(storage.db);
    const databaseMB = round(Number(size.rows[0]?.n ?? 0) / 2 ** 20, 1);
    const directoryFileMB = round((await directoryFileBytes(storage.db)) / 2 ** 20, 1);
    await storage.close();
    rmSync(dataDir, { recursive: true, force: true });

    progress(`directory: ${num(memoryRecords)} records in memory (child process)`);
    const memory = await runMemoryChild(memoryRecords, opts.quick);

    const baselineMs = roundSummary(summarize(pairs.map((p) => p.baselineMs)), 1);
    const withDirectoryMs = roundSummary(summarize(pairs.map((p) => p.withDirectoryMs)), 1);
    const catchUpMs = roundSummary(summarize(pairs.map((p) => p.catchUpMs)), 1);
    const ratio = round(withDirectoryMs.median / baselineMs.median, 2);
    const usPerEvent = round((catchUpMs.median * 1000) / batchEvents, 1);
    const sizes = { present: sizeStats(latest.sizes), absent: sizeStats(absent.sizes) };
    const serving = {
      latest: roundLatency(latest.latency),
      old: roundLatency(old.latency),
      absent: roundLatency(absent.latency),
      proofsPerSecond: Math.round((PROOF_SAMPLES.latest * 1000) / latest.ms),
    };
    const measured = storageRows.slice(-rounds);
    const label = num(records);
    const full = !opts.quick;
    const biggest = memory ? Math.max(sizes.present.max, memory.present.max, memory.absent.max) : null;
    return {
      records,
      batchEvents,
      build: { batches: buildMs.length, sealMs: roundSummary(summarize(buildMs), 1) },
      pairs,
      baselineMs,
      withDirectoryMs,
      catchUpMs,
      ratio,
      usPerEvent,
      storage: storageRows,
      directoryFileMB,
      databaseMB,
      serving,
      sizes,
      memory,
      notes: [
        `Each measured batch holds ${num(batchEvents)} events: ${num(fresh)} new records and events on ${num(batchEvents - fresh)} ` +
          `distinct records already in the directory (${ENDING_SHARE * 100}% of them revocations, which end the record).`,
        'Baseline = the seal in one transaction without the directory. With directory = the same and updateDirectory in it, ' +
          "on the next batch. Catch-up = catchUpDirectory on the baseline's batch: reading its events back (events.ofBatch), " +
          'reading the directory pages on their paths, hashing and storing the new version, in a transaction of its own.',
        'Stored bytes: logical = page and path bytes handed to the store for the version; file = growth of the directory_pages ' +
          'b-tree (SQLite dbstat, WITHOUT ROWID table), which includes b-tree slack and the (version, path) keys.',
        `State proofs: ${PROOF_SAMPLES.latest} stateProof calls for random records (latest batch), ${PROOF_SAMPLES.old} as of batch 1, ` +
          `${PROOF_SAMPLES.absent} for records that do not exist, one by one after a warm-up; each proof then checked outside the timing. ` +
          "A call reads the pages on the key's path one by one (each names the next), about five at a million records.",
        memory
          ? `${num(memory.records)} records: built in memory in chunks of ${num(memory.chunk)} through DirectoryUpdate and ` +
            'proveDirectoryKey (the code the service runs), pages in a compact map in place of the database; building that ' +
            'many in SQLite would take longer than the suite allows.'
          : 'The in-memory run at scale failed; see stderr.',
      ],
      targets: [
        {
          id: 'directory-seal',
          case: 'directory',
          target:
            'seal of a 100,000-event batch on a 1,000,000-record directory within 2x of sealing without it',
          figure:
            `${ratio}x: ${withDirectoryMs.median} ms with the directory vs ${baselineMs.median} ms without ` +
            `(medians of ${pairs.length}; ${num(batchEvents)} events on ${label} records)`,
          pass: ratio <= 2,
          provisional: !full,
        },
        {
          id: 'directory-proof-size',
          case: 'directory',
          target: 'state proof at most 1.2 KB at 1M and at 10M records',
          figure:
            `largest ${num(biggest)} bytes; at ${label} (SQLite): present p50 ${sizes.present.p50}, p99 ${sizes.present.p99}, ` +
            `absent p99 ${sizes.absent.p99}` +
            (memory
              ? `; at ${num(memory.records)} (memory): present p50 ${memory.present.p50}, p99 ${memory.present.p99}, max ${memory.present.max}, absent p99 ${memory.absent.p99}`
              : ''),
          pass: biggest === null ? null : biggest <= PROOF_SIZE_TARGET,
          provisional: !full,
        },
        {
          id: 'directory-update',
          case: 'directory',
          target: 'directory update cost per event reported (no target)',
          figure: `${usPerEvent} us per event (catchUpDirectory of ${num(batchEvents)} events on ${label} records, median ${catchUpMs.median} ms)`,
          pass: null,
        },
        {
          id: 'directory-serving',
          case: 'directory',
          target: 'state proof serving rate from SQLite reported (no target)',
          figure: `${num(serving.proofsPerSecond)} proofs/s on one connection (p50 ${serving.latest.p50} ms, p99 ${serving.latest.p99} ms)`,
          pass: null,
        },
        {
          id: 'directory-storage',
          case: 'directory',
          target: 'bytes stored per batch reported (no target)',
          figure: `${num(median(measured.map((v) => v.fileBytes)) / 2 ** 20, 1)} MB in the file per ${num(batchEvents)}-event batch (${num(median(measured.map((v) => v.pages)))} pages)`,
          pass: null,
        },
      ],
    };
  } catch (err) {
    await storage.close().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

function median(values: readonly number[]): number {
  return summarize(values).median;
}

function roundLatency(l: Latency): Latency {
  return {
    n: l.n,
    p50: round(l.p50, 3),
    p95: round(l.p95, 3),
    p99: round(l.p99, 3),
    max: round(l.max, 2),
    mean: round(l.mean, 3),
  };
}

async function runMemoryChild(records: number, quick: boolean): Promise<MemoryScale | null> {
  const child = await runTs('bench/cases/directory.ts', ['memory', String(records)], {
    timeoutMs: (quick ? 3 : 20) * 60_000,
    nodeArgs: ['--max-old-space-size=10000'],
    echoStderr: true,
  });
  if (child.timedOut || child.code !== 0) return null;
  return lastJsonLine<MemoryScale>(child.stdout);
}

/**
 * Directory pages in memory, compactly: page bytes appended to large chunks, and one number per
 * path (the latest page only). A Map of byte arrays costs several times the bytes at ten million
 * records.
 */
class CompactPages {
  private static readonly CHUNK = 1 << 26;
  private readonly at = new Map<string, number>();
  private readonly chunks: Uint8Array[] = [];
  private used = 0;

  get size(): number {
    return this.at.size;
  }

  set(path: string, page: Uint8Array): void {
    let chunk = this.chunks.at(-1);
    if (!chunk || this.used + 2 + page.length > chunk.length) {
      chunk = new Uint8Array(CompactPages.CHUNK);
      this.chunks.push(chunk);
      this.used = 0;
    }
    chunk[this.used] = page.length >>> 8;
    chunk[this.used + 1] = page.length & 0xff;
    chunk.set(page, this.used + 2);
    this.at.set(path, (this.chunks.length - 1) * CompactPages.CHUNK + this.used);
    this.used += 2 + page.length;
  }

  get(path: string): Uint8Array | undefined {
    const offset = this.at.get(path);
    if (offset === undefined) return undefined;
    const chunk = this.chunks[Math.floor(offset / CompactPages.CHUNK)]!;
    const i = offset % CompactPages.CHUNK;
    return chunk.subarray(i + 2, i + 2 + ((chunk[i]! << 8) | chunk[i + 1]!));
  }
}

/** Child mode: `records` random keys in memory, then proof sizes; one JSON line on stdout. */
function memoryChild(records: number): void {
  const chunk = Math.min(records, 1_000_000);
  const keyOf = (i: number) => {
    const seed = new Uint8Array(8);
    new DataView(seed.buffer).setFloat64(0, i);
    return bytesToHex(keccak256(seed));
  };
  const pages = new CompactPages();
  let root: Hex = EMPTY_DIRECTORY_ROOT;
  let version = 0;
  const chunkMs: number[] = [];
  for (let from = 0; from < records; from += chunk) {
    const entries = [];
    for (let i = from; i < Math.min(records, from + chunk); i++) {
      const key = keyOf(i);
      entries.push({ key, value: { seq: 0, leaf: key, ended: false } });
    }
    const t0 = performance.now();
    const update = new DirectoryUpdate(entries, version === 0 ? null : { root, version }, version + 1);
    for (let keys = update.wanted(); keys.length > 0; keys = update.wanted()) {
      update.supply(keys.map((k) => pages.get(k.path)!));
    }
    const change = update.result();
    for (const { path, page } of change.pages) pages.set(path, page);
    root = change.root;
    version++;
    chunkMs.push(round(performance.now() - t0, 0));
    progress(
      `directory memory: ${num(from + chunk)} records (${Math.round(chunkMs.at(-1)!)} ms, load ${load1()})`,
    );
  }
  const sizesOf = (keys: Hex[], status: 'present' | 'absent') =>
    keys.map((key) => {
      const search = proveDirectoryKey(root, version, key, (k) => pages.get(k.path));
      if (!('proof' in search)) throw new Error(`page ${search.missing.path} missing`);
      const proof = encodeDirectoryProof(search.proof);
      if (verifyDirectoryProof(root, key, proof).status !== status)
        throw new Error(`proof of ${key} is wrong`);
      return proof.length;
    });
  const prng = new Prng(0xd1_0002);
  const present = sizesOf(
    Array.from({ length: MEMORY_SAMPLES }, () => keyOf(prng.int(records))),
    'present',
  );
  const absent = sizesOf(
    Array.from({ length: MEMORY_SAMPLES }, (_, i) => recordKey(`absent-${i}`)),
    'absent',
  );
  const out: MemoryScale = {
    records,
    chunkMs,
    chunk,
    pages: pages.size,
    present: sizeStats(present),
    absent: sizeStats(absent),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

/** The report's section: seal times, stored bytes per version, serving, proof sizes. */
export const directoryReport: CaseReport<DirectoryResult> = {
  title: 'Item directory',
  reportedTargets: ['directory-update', 'directory-serving', 'directory-storage'],
  section: (r) =>
    [
      `Directory of ${num(r.records)} records in SQLite, built in ${r.build.batches} seals of ${num(r.batchEvents)} ` +
        `(${spread(r.build.sealMs)} ms each, with the directory); then batches of ${num(r.batchEvents)} events.`,
      '',
      table(
        [
          'round',
          'records before',
          'seal ms (no directory)',
          'seal with directory ms',
          'ratio',
          'catch-up ms',
          'load',
        ],
        r.pairs.map((p) => [
          String(p.round),
          num(p.directoryRecords),
          num(p.baselineMs),
          num(p.withDirectoryMs),
          `${round(p.withDirectoryMs / p.baselineMs, 2)}x`,
          num(p.catchUpMs),
          num(p.loadBefore, 2),
        ]),
      ),
      '',
      `Seal: **${spread(r.withDirectoryMs)} ms with the directory vs ${spread(r.baselineMs)} ms without: ${r.ratio}x** ` +
        `(medians). The directory alone (catch-up): ${spread(r.catchUpMs)} ms, **${r.usPerEvent} us per event**.`,
      '',
      'Stored per version (batch):',
      '',
      table(
        ['version', 'events', 'records after', 'pages', 'logical MB', 'file MB', 'file bytes per event'],
        r.storage.map((v) => [
          String(v.version),
          num(v.events),
          num(v.records),
          num(v.pages),
          num(v.logicalBytes / 2 ** 20, 1),
          num(v.fileBytes / 2 ** 20, 1),
          num(v.fileBytes / v.events),
        ]),
      ),
      '',
      `directory_pages holds ${num(r.directoryFileMB, 1)} MB of a ${num(r.databaseMB, 1)} MB database at the end.`,
      '',
      'State proofs served from SQLite (stateProof, one connection):',
      '',
      table(
        ['proofs', 'n', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'],
        [
          ['latest batch', r.serving.latest],
          ['as of batch 1', r.serving.old],
          ['absent records', r.serving.absent],
        ].map(([name, l]) => {
          const x = l as Latency;
          return [name as string, num(x.n), num(x.p50, 3), num(x.p95, 3), num(x.p99, 3), num(x.max, 2)];
        }),
      ),
      '',
      `Rate: **${num(r.serving.proofsPerSecond)} proofs/s** (latest batch, sequential).`,
      '',
      'Proof sizes in bytes:',
      '',
      table(
        ['records', 'where', 'proof of', 'mean', 'p50', 'p99', 'max'],
        [
          [num(r.records), 'SQLite', 'present', r.sizes.present],
          [num(r.records), 'SQLite', 'absent', r.sizes.absent],
          ...(r.memory
            ? [
                [num(r.memory.records), 'memory', 'present', r.memory.present],
                [num(r.memory.records), 'memory', 'absent', r.memory.absent],
              ]
            : []),
        ].map(([records, where, of, s]) => {
          const x = s as SizeStats;
          return [
            records as string,
            where as string,
            of as string,
            num(x.mean, 1),
            num(x.p50),
            num(x.p99),
            num(x.max),
          ];
        }),
      ),
      '',
      r.memory
        ? `In memory: ${num(r.memory.records)} records, ${num(r.memory.pages)} pages, chunks of ${num(r.memory.chunk)} in ${r.memory.chunkMs.map((x) => num(x)).join(', ')} ms.`
        : 'In memory: not measured.',
      '',
      ...r.notes.map((x) => `- ${x}`),
    ].join('\n'),
};

if (isMain(import.meta.url)) {
  const mode = process.argv[2];
  if (mode === 'memory') memoryChild(Number(process.argv[3]));
  else await caseMain(runDirectory);
}
