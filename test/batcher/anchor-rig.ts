/**
 * The anchorer (src/batcher/anchorer.ts) on the memory store's real BatchStore and LeaseStore with a
 * simulated node (sim-chain.ts), for anchorer.memory.test.ts and anchorer-pipelined.memory.test.ts:
 * sealed batches of fixed records, instances that each hold or wait for the anchorer lease on a
 * clock the test moves, and what a pass does as a running batcher's tick does it.
 */
import { sealBatch } from '../../src/service/sealing.ts';
import { Transaction } from 'ethers';
import pino from 'pino';
import { expect } from 'vitest';
import { advanceBatches, recheckFinalBatches, type AnchorerDeps } from '../../src/batcher/anchorer.ts';
import { Lease } from '../../src/batcher/lease.ts';
import type { FinalityRule } from '../../src/chain/finality.ts';
import type { TxReceipt } from '../../src/chain/registry.ts';
import type { RpcErrorKind } from '../../src/chain/rpc-provider.ts';
import type { FaultTiming } from '../../src/storage/memory/faults.ts';
import type { BatchRow } from '../../src/storage/rows.ts';
import { memoryService } from '../helpers/memory-context.ts';
import { seedRecords } from '../storage/fixtures.ts';
import { SimChain } from './sim-chain.ts';

export const TTL_MS = 5_000;
/** The batcher's own MAX_IN_FLIGHT default. */
const MAX_IN_FLIGHT = 8;
export const silent = pino({ level: 'silent' });

export interface RigOptions {
  /** CONFIRMATIONS: a depth in blocks or a node's tag; 1 block unless given. */
  finality?: number | FinalityRule;
  /** MAX_IN_FLIGHT; the batcher's default unless given. */
  maxInFlight?: number;
  /** Sealed batches to start with; 1 unless given. */
  batches?: number;
  /** A chain mining a block only when the test says (as on a clock), instead of at each send. */
  interval?: boolean;
}

/**
 * A memory service with sealed batches of two fixed records each (the same roots every run), a
 * simulated chain, and one instance leading: the anchorer lease taken on a clock the test moves.
 */
export async function anchorRig(opts: RigOptions = {}) {
  const service = memoryService();
  const { ctx, storage } = service;
  let sealed = 0;
  /** Registers two records and seals them into the next batch, `count` times. */
  const seal = async (count = 1) => {
    for (let i = 0; i < count; i++) {
      sealed++;
      await seedRecords(storage, 'm1', [`b${sealed}-r1`, `b${sealed}-r2`]);
      await sealBatch(ctx, 100);
    }
  };
  await seal(opts.batches ?? 1);
  const chain = new SimChain();
  chain.automine = !opts.interval;
  const time = { ms: 0 };
  const finality: FinalityRule =
    typeof opts.finality === 'object' ? opts.finality : { kind: 'depth', blocks: opts.finality ?? 1 };
  /** What the anchorer reported: nodes' refusals, receipts recorded, anchors in flight after each pass. */
  const figures = { refused: [] as RpcErrorKind[], spent: [] as TxReceipt[], inFlight: [] as number[] };
  /**
   * Every batch transition the anchorer asks the store for, counted; with `failAt`, the n-th one
   * fails as the memory store's fault hooks make it fail.
   */
  const transitions = { count: 0, failAt: null as { n: number; when: FaultTiming } | null };
  const batches: AnchorerDeps['batches'] = {
    unfinished: () => storage.batches.unfinished(),
    newestFinal: (limit) => storage.batches.newestFinal(limit),
    transition: (...args) => {
      if (++transitions.count === transitions.failAt?.n) {
        storage.faults.failNext('batches.transition', transitions.failAt.when);
      }
      return storage.batches.transition(...args);
    },
  };
  const instance = (holder: string) => {
    const lease = new Lease(storage.leases, holder, TTL_MS, () => time.ms);
    const deps: AnchorerDeps = {
      batches,
      chain,
      fence: () => lease.fence,
      onLeaseLost: () => lease.abandon(),
      finality,
      maxInFlight: opts.maxInFlight ?? MAX_IN_FLIGHT,
      figures: {
        refused: (kind) => figures.refused.push(kind),
        spent: (receipt) => figures.spent.push(receipt),
        inFlight: (count) => figures.inFlight.push(count),
      },
      log: silent,
      now: ctx.now,
    };
    /** A pass as a running batcher's tick makes it: recheck final batches, then advance while any moves. */
    const pass = async () => {
      await recheckFinalBatches(deps);
      while ((await advanceBatches(deps)) > 0);
    };
    return { lease, pass };
  };
  const leader = instance('a');
  await leader.lease.acquire();
  const batch = async (id = 1) => (await storage.batches.get(id))!;
  const rows = () => storage.batches.list(0, 100);
  const statuses = async () => (await rows()).map((b) => b.status);
  /**
   * Passes by `by` (the leader unless given), mining a block after each, until every batch is final
   * (at most `rounds` passes); returns how many passes it took.
   */
  const untilFinal = async (rounds = 10, by = leader) => {
    for (let i = 1; i <= rounds; i++) {
      await by.pass();
      if ((await statuses()).every((s) => s === 'final')) return i;
      chain.mine();
    }
    throw new Error(`not final after ${rounds} passes: ${(await statuses()).join(', ')}`);
  };
  return {
    ...service,
    chain,
    time,
    figures,
    transitions,
    seal,
    instance,
    leader,
    batch,
    rows,
    statuses,
    untilFinal,
  };
}

export type Rig = Awaited<ReturnType<typeof anchorRig>>;

/** The nonce a batch's saved transaction was signed at. */
export function nonceOf(row: BatchRow): number {
  return Transaction.from(row.raw_tx!).nonce;
}

/**
 * The chain holds exactly the stored batches' roots under their ids, each batch is final with it in
 * the block and transaction the contract's event names, and the node saw nothing the anchorer must
 * never do.
 */
export async function expectAnchoredAsStored(r: Rig): Promise<void> {
  const stored = await r.rows();
  expect(stored.map((b) => [b.id, b.status, b.chain_root])).toEqual(
    stored.map((b) => [b.id, 'final', b.root]),
  );
  expect(r.chain.anchoredRoots()).toEqual(new Map(stored.map((b) => [b.id, b.root])));
  const events = r.chain.anchorEventsNow();
  expect(stored.map((b) => [b.id, b.tx_hash, b.block_number, b.block_hash])).toEqual(
    stored.map((b) => {
      const event = events.get(b.id)!;
      return [b.id, event.txHash, event.blockNumber, event.blockHash];
    }),
  );
  expect(r.chain.breaches).toEqual([]);
}
