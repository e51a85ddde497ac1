/**
 * Sealing: the oldest unbatched events become batch max(id)+1, its tree is built and every node
 * stored, so proofs are point lookups, never a rebuild.
 *
 * The seal also extends the item directory (directory.ts) by the batch's events, visible from the
 * transaction that makes the batch visible, and keeps its root on the batch row (state_root) for
 * the anchorer.
 *
 * A seal must not stall the API. On SQLite every statement runs on the event loop and the one writer
 * blocks every other write for as long as a transaction holds it, so a large seal is done in short
 * committed steps (after Sunlight, which commits before it publishes and repairs on load): the
 * batch id is taken by an open seal that no reader sees (BatchStore.beginSeal), events are given to
 * it a few thousand at a time (each step sized to stall the event loop about STEP_TARGET_MS,
 * steps.ts), the tree is built in a worker thread (TreeBuilder), its nodes are stored 256 KB at a
 * time, the directory's new pages are computed in the same worker and staged in parts
 * (stageDirectory, directory.ts), and one last short transaction makes the batch visible as
 * 'sealed' together with its directory version. A seal that fits one step is done in one
 * transaction instead.
 *
 * One sealer at a time, across instances: a seal holds the sealer lease, and every write of a seal
 * in steps is fenced by it. A sealer that dies mid-seal leaves an open seal, which the next seal
 * (once the lease has expired) takes up and completes before anything else.
 */
import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { NODE_SIZE } from '../core/index.ts';
import type { BatchRow, LeaseFence, OpenSeal, SealedTree } from '../storage/rows.ts';
import { iso, type ServiceContext } from './context.ts';
import {
  catchUpDirectory,
  publishDirectory,
  stageDirectory,
  updateDirectory,
  type DirectoryStep,
} from './directory.ts';
import { measureStall, nextStepSize } from './steps.ts';
import { buildInline } from './tree-builder.ts';

export const SEALER_LEASE = 'sealer';
/** A sealer renews its lease at every step; one that dies holds sealing up this long at most. */
export const SEALER_LEASE_MS = 10_000;
/**
 * The first step's size; later steps follow the stall each step caused (STEP_TARGET_MS, steps.ts),
 * within the bounds below.
 */
export const FIRST_STEP_LEAVES = 2000;
const MIN_STEP_LEAVES = 500;
const MAX_STEP_LEAVES = 50_000;
/** Leaves read back per statement when taking up an open seal. */
const RESUME_PAGE_LEAVES = 10_000;

/** Another sealer holds the sealer lease: try again later. */
export class SealerBusyError extends Error {
  override name = 'SealerBusyError';
}

/** The sealer lease passed on mid-seal (this sealer stalled past its TTL): what it wrote stays, fenced. */
export class SealerLostError extends Error {
  override name = 'SealerLostError';
}

export interface SealOptions {
  /** Who holds the sealer lease; each call gets its own holder by default. */
  holder?: string;
  /** Called after each committed step of a seal in steps (tests stop a seal halfway with it). */
  afterStep?: () => void;
  /** Called after each step of a seal in steps' directory: events read, pages read, pages staged. */
  afterDirectoryStep?: (step: DirectoryStep) => void | Promise<void>;
}

/**
 * Seals up to `maxLeaves` of the oldest unbatched events into batch max(id)+1, or first completes an
 * open seal a dead sealer left. Returns the sealed batch, or null when nothing waits. Throws
 * SealerBusyError when another sealer is at work (seals racing on other instances, or an operator's
 * seal beside the batcher's), SealerLostError when its lease passed on mid-seal.
 */
export async function sealBatch(
  ctx: ServiceContext,
  maxLeaves: number,
  opts: SealOptions = {},
): Promise<BatchRow | null> {
  const { storage } = ctx;
  const lease = await SealerLease.take(ctx, opts.holder ?? randomUUID());
  try {
    // A database that sealed batches before the directory existed gets it first: each seal
    // extends the directory by exactly one version.
    await catchUpDirectory(ctx);
    const open = await storage.batches.openSeal();
    if (open) return await sealInSteps(ctx, open, maxLeaves, lease, opts);
    const waiting = await storage.events.unbatched(FIRST_STEP_LEAVES + 1);
    if (waiting.count === 0) return null;
    if (Math.min(waiting.count, maxLeaves) <= FIRST_STEP_LEAVES) {
      return await sealInOneTransaction(ctx, Math.min(maxLeaves, FIRST_STEP_LEAVES), lease);
    }
    const id = await storage.batches.nextId();
    if (!(await storage.batches.beginSeal(id, lease.fence))) throw lease.lost();
    return await sealInSteps(ctx, { id, leaf_count: 0 }, maxLeaves, lease, opts);
  } finally {
    await lease.release();
  }
}

/**
 * A small seal, all in one transaction: either the batch, its nodes and every event's place in it
 * are saved, or none of them. The lease is renewed inside it, which on PostgreSQL locks the lease
 * row until the commit, so the lease cannot pass on halfway.
 */
async function sealInOneTransaction(
  ctx: ServiceContext,
  maxLeaves: number,
  lease: SealerLease,
): Promise<BatchRow | null> {
  return ctx.storage.transaction(async (tx) => {
    if (!(await tx.leases.acquire(SEALER_LEASE, lease.fence.holder, SEALER_LEASE_MS, Date.now()))) {
      throw lease.lost();
    }
    const batchId = await tx.batches.nextId();
    const leaves = await tx.events.assignOldestUnbatched(batchId, maxLeaves);
    if (leaves.length === 0) return null;
    const tree = buildInline(leaves);
    const stateRoot = await updateDirectory(tx, batchId, await tx.events.ofBatch(batchId));
    const batch = { ...sealedRow(ctx, batchId, tree), state_root: stateRoot };
    await tx.batches.insertSealed(batch, tree);
    return batch;
  });
}

/**
 * Fills open seal `open` up to `maxLeaves` in steps, builds its tree off the event loop, stores the
 * nodes in parts and completes it. Between steps the event loop runs (each step's statements are
 * synchronous on SQLite), so requests are served throughout.
 */
async function sealInSteps(
  ctx: ServiceContext,
  open: OpenSeal,
  maxLeaves: number,
  lease: SealerLease,
  opts: SealOptions,
): Promise<BatchRow | null> {
  const { batches, events } = ctx.storage;
  // Only what waits now: events that keep arriving go to the next batch, so a seal under steady
  // ingest ends instead of chasing it up to maxLeaves.
  const createdUpTo = iso(ctx);
  const parts: Uint8Array[] = [];
  for (let from = 0; from < open.leaf_count; from += RESUME_PAGE_LEAVES) {
    parts.push(await events.batchLeaves(open.id, from, Math.min(RESUME_PAGE_LEAVES, open.leaf_count - from)));
    await yieldToEventLoop();
  }
  let count = open.leaf_count;
  for (let step = FIRST_STEP_LEAVES; count < maxLeaves;) {
    const want = Math.min(step, maxLeaves - count);
    const { result: leaves, stalledMs } = await measureStall(() =>
      events.assignToSeal(open.id, want, createdUpTo, lease.fence),
    );
    if (leaves === null) throw lease.lost();
    parts.push(leaves);
    count += leaves.length / NODE_SIZE;
    opts.afterStep?.();
    if (leaves.length / NODE_SIZE < want) break;
    step = nextStepSize(step, stalledMs, MIN_STEP_LEAVES, MAX_STEP_LEAVES);
    await lease.renew();
    await yieldToEventLoop();
  }
  // Nothing waited after all (only an open seal taken up with no leaves): it stays open for the next.
  if (count === 0) return null;

  const tree = await lease.keptDuring(() => buildTree(ctx, concat(parts, count)));
  const nodes = tree.levels.reduce((n, level) => n + level.length / NODE_SIZE, 0);
  for (let from = 0; from < nodes;) {
    const next = await batches.storeSealNodes(open.id, tree, from, lease.fence);
    if (next === null) throw lease.lost();
    from = next;
    await lease.renew();
    await yieldToEventLoop();
  }
  // The directory's pages are staged in steps too (its hashing in the worker); its version and the
  // batch become visible together in one short transaction: a lost lease rolls both back.
  const staged = await stageDirectory(ctx, open.id, count, lease.fence, {
    step: async (step) => {
      await opts.afterDirectoryStep?.(step);
      await lease.renew();
      await yieldToEventLoop();
    },
    kept: (work) => lease.keptDuring(work),
    lost: () => lease.lost(),
  });
  return ctx.storage.transaction(async (tx) => {
    const stateRoot = await publishDirectory(tx, staged);
    const batch = { ...sealedRow(ctx, open.id, tree), state_root: stateRoot };
    if (
      !(await tx.batches.completeSeal(open.id, tree.root, count, batch.sealed_at, lease.fence, stateRoot))
    ) {
      throw lease.lost();
    }
    return batch;
  });
}

function buildTree(ctx: ServiceContext, leaves: Uint8Array): Promise<SealedTree> {
  return ctx.trees ? ctx.trees.build(leaves) : Promise.resolve(buildInline(leaves));
}

/** The parts' leaves in one buffer of its own (the tree builder takes it over). */
function concat(parts: readonly Uint8Array[], count: number): Uint8Array {
  const packed = new Uint8Array(count * NODE_SIZE);
  let at = 0;
  for (const part of parts) {
    packed.set(part, at);
    at += part.length;
  }
  return packed;
}

/** The row of batch `id` just sealed over `tree` (nothing on chain yet). */
export function sealedRow(ctx: ServiceContext, id: number, tree: SealedTree): BatchRow {
  return {
    id,
    root: tree.root,
    leaf_count: tree.levels[0]!.length / NODE_SIZE,
    status: 'sealed',
    sealed_at: iso(ctx),
    raw_tx: null,
    tx_hash: null,
    block_number: null,
    block_hash: null,
    anchored_at: null,
    final_at: null,
    chain_root: null,
    state_root: null,
  };
}

/** The sealer lease as one seal holds it: taken at the start, renewed as it goes, released at the end. */
class SealerLease {
  private renewedAt = Date.now();

  private constructor(
    private readonly ctx: ServiceContext,
    readonly fence: LeaseFence,
  ) {}

  /** Takes the lease for `holder`, or throws SealerBusyError while another holds it. */
  static async take(ctx: ServiceContext, holder: string): Promise<SealerLease> {
    const fence = await ctx.storage.leases.acquire(SEALER_LEASE, holder, SEALER_LEASE_MS, Date.now());
    if (!fence) throw new SealerBusyError('another seal is in progress; try again shortly');
    return new SealerLease(ctx, fence);
  }

  /** Renews the lease once a third of its TTL has passed; SealerLostError if it passed on. */
  async renew(): Promise<void> {
    const now = Date.now();
    if (now - this.renewedAt < SEALER_LEASE_MS / 3) return;
    const fence = await this.ctx.storage.leases.acquire(
      SEALER_LEASE,
      this.fence.holder,
      SEALER_LEASE_MS,
      now,
    );
    if (!fence || fence.token !== this.fence.token) throw this.lost();
    this.renewedAt = now;
  }

  /** Runs `work` (no store writes of its own) while renewing the lease in the background. */
  async keptDuring<T>(work: () => Promise<T>): Promise<T> {
    let failure: unknown = null;
    const timer = setInterval(() => {
      this.renew().catch((err: unknown) => (failure ??= err));
    }, SEALER_LEASE_MS / 4);
    try {
      const result = await work();
      if (failure) throw failure;
      return result;
    } finally {
      clearInterval(timer);
    }
  }

  lost(): SealerLostError {
    return new SealerLostError(`the sealer lease passed on while sealing (holder ${this.fence.holder})`);
  }

  /** Lets the next sealer in at once; a release that fails leaves the lease to expire. */
  async release(): Promise<void> {
    await this.ctx.storage.leases.release(this.fence).catch(() => {});
  }
}
