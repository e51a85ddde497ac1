/**
 * The item directory as the service keeps it: directory N is directory N-1 with batch N's events
 * applied (each record's last event in the batch wins), stored as version N inside the seal's
 * transaction; and state proofs, as of the latest version or any past one, read from storage.
 */
import {
  bytesToHex,
  DirectoryUpdate,
  encodeDirectoryProof,
  proveDirectoryKey,
  recordKey,
  verifyDirectoryProof,
  type DirectoryPageWrite,
  type DirectoryValue,
  type Hex,
} from '../core/index.ts';
import type { BatchEventRow, DirectoryVersionRow, LeaseFence } from '../storage/rows.ts';
import type { Stores } from '../storage/storage.ts';
import type { ServiceContext } from './context.ts';
import { keepLatest, pageAt, splitPaths, statesOf, unpackKeys } from './directory-job.ts';
import { notFound } from './errors.ts';
import { measureStall, nextStepSize } from './steps.ts';
import { inlineDirectory } from './tree-builder.ts';

/**
 * Events read per step when a seal in steps reads its batch for the directory, and stored pages read
 * per step for its update: the first step's size, and the bounds of the sizes the stall of each step
 * sets (steps.ts). The upper bounds matter on PostgreSQL, where the stall measured is only the
 * sending of the query, not the copy of what it read to the worker.
 */
const EVENT_STEPS = { first: 2000, min: 500, max: 10_000 };
const PAGE_STEPS = { first: 250, min: 100, max: 2000 };
/** Bytes of pages staged per step, sized the same way (256 KB: a tree's nodes per step). */
const STAGE_BYTES = { first: 256 * 1024, min: 64 * 1024, max: 1024 * 1024 };
/** Staged pages of an interrupted sealer removed per statement. */
const DISCARD_PER_STEP = 2000;

/**
 * Stores directory version `batchId`: the directory after batch `batchId`, whose `events` (all of
 * them, in any order) are given. Call it inside the transaction that seals the batch, after the
 * batch's events are assigned to it, so the batch and its directory commit together. The directory
 * must hold version batchId - 1 (or nothing, for batch 1): see catchUpDirectory. Returns the new root.
 */
export async function updateDirectory(
  tx: Stores,
  batchId: number,
  events: readonly BatchEventRow[],
): Promise<Hex> {
  if (events.length === 0) throw new RangeError(`batch ${batchId} has no events for the directory`);
  const latest = await tx.directory.latest();
  const baseVersion = latest?.version ?? 0;
  if (baseVersion !== batchId - 1) {
    throw new Error(
      `the directory is at batch ${baseVersion}, so it cannot take batch ${batchId}: run catchUpDirectory first`,
    );
  }
  const base = latest ? { root: latest.root as Hex, version: latest.version } : null;
  const last = new Map<string, BatchEventRow>();
  keepLatest(last, events);
  const update = new DirectoryUpdate(statesOf(last), base, batchId);
  for (let keys = update.wanted(); keys.length > 0; keys = update.wanted()) {
    update.supply(await tx.directory.pages(keys));
  }
  const change = update.result();
  const row: DirectoryVersionRow = {
    version: batchId,
    root: change.root,
    record_count: (latest?.record_count ?? 0) + change.added,
  };
  await tx.directory.insertVersion(row, change.pages);
  return change.root;
}

/** What a step of stageDirectory did: read events, read stored pages, discarded or staged pages. */
export type DirectoryStep = 'events' | 'pages' | 'discarded' | 'staged';

/** A directory version whose pages are staged (stageDirectory), to publish with its batch. */
export interface StagedDirectory {
  row: DirectoryVersionRow;
  /** The root of the version it was computed from (null: none). */
  baseRoot: Hex | null;
}

/**
 * For a seal in steps: computes directory version `batchId` from open seal `batchId`'s `leafCount`
 * events and stages its pages (DirectoryStore.stagePages), all in steps that each hold the event
 * loop briefly, with `pace` (renew the lease, let the loop turn) between them; the hashing happens
 * in the tree builder's worker when the context has one. Pages an interrupted sealer staged are
 * discarded first. Nothing is visible until publishDirectory, in the transaction that completes
 * the seal. SealerLostError (from `lost`) when the lease passes on meanwhile.
 */
export async function stageDirectory(
  ctx: Pick<ServiceContext, 'storage' | 'trees'>,
  batchId: number,
  leafCount: number,
  fence: LeaseFence,
  pace: {
    /** After each step: renews the lease, lets the event loop turn. */
    step(step: DirectoryStep): Promise<void>;
    /** Runs hashing that may take seconds (no store writes), the lease renewed meanwhile. */
    kept<T>(work: () => Promise<T>): Promise<T>;
    lost(): Error;
  },
): Promise<StagedDirectory> {
  const { directory, events } = ctx.storage;
  const latest = await directory.latest();
  const baseVersion = latest?.version ?? 0;
  if (baseVersion !== batchId - 1) {
    throw new Error(
      `the directory is at batch ${baseVersion}, so it cannot take batch ${batchId}: run catchUpDirectory first`,
    );
  }
  const base = latest ? { root: latest.root as Hex, version: latest.version } : null;
  const session = ctx.trees ? await ctx.trees.directory(base, batchId) : inlineDirectory(base, batchId);
  try {
    for (let from = 0, size = EVENT_STEPS.first; from < leafCount;) {
      const want = Math.min(size, leafCount - from);
      const { result: part, stalledMs } = await measureStall(async () => {
        const part = await events.ofBatch(batchId, from, want);
        await session.add(part);
        return part;
      });
      if (part.length === 0) throw new Error(`batch ${batchId} has fewer than ${leafCount} events`);
      from += part.length;
      size = nextStepSize(size, stalledMs, EVENT_STEPS.min, EVENT_STEPS.max);
      await pace.step('events');
    }
    const next = () => pace.kept(() => session.next());
    let size = PAGE_STEPS.first;
    for (let keys = await next(); keys.count > 0; keys = await next()) {
      const paths = splitPaths(keys.paths, keys.count);
      for (let from = 0; from < keys.count;) {
        const to = Math.min(keys.count, from + size);
        const { stalledMs } = await measureStall(async () =>
          session.give(await directory.pages(unpackKeys(keys, paths, from, to))),
        );
        from = to;
        size = nextStepSize(size, stalledMs, PAGE_STEPS.min, PAGE_STEPS.max);
        await pace.step('pages');
      }
    }
    const change = await pace.kept(() => session.result());
    // The worker (and the memory the update held) is free again while the pages are staged.
    await session.close();
    for (;;) {
      const discarded = await directory.discardStaged(batchId, DISCARD_PER_STEP, fence);
      if (discarded === null) throw pace.lost();
      if (discarded === 0) break;
      await pace.step('discarded');
    }
    const { pages } = change;
    const paths = splitPaths(pages.paths, pages.count);
    let stageBytes = STAGE_BYTES.first;
    for (let from = 0; from < pages.count;) {
      const part: DirectoryPageWrite[] = [];
      let bytes = 0;
      for (; from < pages.count && (part.length === 0 || bytes < stageBytes); from++) {
        const page = pageAt(pages, from);
        part.push({ path: paths[from]!, page });
        bytes += page.length;
      }
      const { result: ok, stalledMs } = await measureStall(() => directory.stagePages(batchId, part, fence));
      if (!ok) throw pace.lost();
      stageBytes = nextStepSize(stageBytes, stalledMs, STAGE_BYTES.min, STAGE_BYTES.max);
      await pace.step('staged');
    }
    return {
      row: { version: batchId, root: change.root, record_count: (latest?.record_count ?? 0) + change.added },
      baseRoot: base?.root ?? null,
    };
  } finally {
    await session.close();
  }
}

/**
 * Makes staged directory `staged` visible; call it in the transaction that completes its batch.
 * Throws if the directory moved on from the version it was computed from.
 */
export async function publishDirectory(tx: Stores, staged: StagedDirectory): Promise<Hex> {
  const latest = await tx.directory.latest();
  if ((latest?.version ?? 0) !== staged.row.version - 1 || (latest?.root ?? null) !== staged.baseRoot) {
    throw new Error(`the directory moved on while batch ${staged.row.version}'s was staged`);
  }
  await tx.directory.insertVersion(staged.row, []);
  return staged.row.root as Hex;
}

/**
 * Brings the directory up to the latest sealed batch, one batch per transaction, from the events
 * stored in each: for a database that sealed batches before it kept a directory, or after a seal
 * that stored a batch without its directory. Returns how many batches it applied. Safe to race: a
 * version another instance stored first makes this one's insert fail with DuplicateKeyError.
 */
export async function catchUpDirectory(ctx: Pick<ServiceContext, 'storage'>): Promise<number> {
  let applied = 0;
  for (;;) {
    // Read first, outside any transaction: the seal calls this every time, and is almost never behind.
    const next = ((await ctx.storage.directory.latest())?.version ?? 0) + 1;
    if (!(await ctx.storage.batches.get(next))) return applied;
    const done = await ctx.storage.transaction(async (tx) => {
      const next = ((await tx.directory.latest())?.version ?? 0) + 1;
      if (!(await tx.batches.get(next))) return true;
      await updateDirectory(tx, next, await tx.events.ofBatch(next));
      return false;
    });
    if (done) return applied;
    applied++;
  }
}

/** A record's state as of a batch, with the proof of it against that batch's directory root. */
export interface StateProof {
  /** The batch (directory version) the proof is for. */
  batchId: number;
  /** The directory root after that batch. */
  root: Hex;
  recordKey: Hex;
  /** The encoded directory proof (src/core/directory/proof.ts), as 0x-hex. */
  proof: Hex;
  /** The record's state after the batch, or null when no batch up to it held the record. */
  state: DirectoryValue | null;
}

/**
 * The proof of record `recordId`'s state (present, or absent) as of batch `asOfBatch`, or of the
 * latest batch the directory holds. 404 batch_not_found when the directory has no such version.
 * Throws (a 500) if the stored pages do not make a proof that checks against the stored root.
 */
export async function stateProof(
  ctx: Pick<ServiceContext, 'storage'>,
  recordId: string,
  asOfBatch?: number,
): Promise<StateProof> {
  const { directory } = ctx.storage;
  const version = asOfBatch === undefined ? await directory.latest() : await directory.get(asOfBatch);
  if (!version) {
    throw notFound(
      'batch_not_found',
      asOfBatch === undefined ? 'no batch has been sealed yet' : `no directory for batch ${asOfBatch}`,
    );
  }
  const root = version.root as Hex;
  const key = recordKey(recordId);
  // One read per page on the key's path (about five for a million records), each named by the one above.
  const pages = new Map<string, Uint8Array>();
  for (;;) {
    const search = proveDirectoryKey(root, version.version, key, ({ path }) => pages.get(path));
    if ('proof' in search) {
      const proof = encodeDirectoryProof(search.proof);
      const verdict = verifyDirectoryProof(root, key, proof);
      if (verdict.status === 'invalid') {
        throw new Error(
          `directory version ${version.version} gives a bad proof for ${key}: ${verdict.reason}`,
        );
      }
      const state = verdict.status === 'present' ? verdict.value : null;
      return { batchId: version.version, root, recordKey: key, proof: bytesToHex(proof), state };
    }
    const [page] = await directory.pages([search.missing]);
    pages.set(search.missing.path, page!);
  }
}
