/**
 * The batching loop's step (Batcher.tick in src/batcher/batcher.ts) on the memory store with a
 * simulated node: when it seals (BATCH_MAX_AGE_MS, BATCH_MAX_LEAVES), that only the lease holder
 * seals and anchors, failover to another instance, halting on a conflicting root, the same with
 * several anchors in flight (MAX_IN_FLIGHT) and the figures the status reports, CONFIRMATIONS=finalized,
 * and the lease's and the seal's writes failed before and after they persist. Ticks are called
 * directly: no timers.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Batcher, type BatcherOptions } from '../../src/batcher/batcher.ts';
import { Lease } from '../../src/batcher/lease.ts';
import type { Hex } from '../../src/core/index.ts';
import { registerRecords } from '../../src/service/registration.ts';
import {
  InjectedStorageFailure,
  type FaultOperation,
  type FaultTiming,
} from '../../src/storage/memory/faults.ts';
import { memoryService, verifiedMerchant } from '../helpers/memory-context.ts';
import { recordBody } from '../helpers/records.ts';
import { SimChain } from './sim-chain.ts';

const TTL_MS = 5_000;
const MAX_AGE_MS = 10_000;

/** A memory service with a verified merchant, a simulated chain, and instances that share both. */
async function cluster(
  opts: { maxLeaves?: number; maxInFlight?: number; confirmations?: BatcherOptions['confirmations'] } = {},
) {
  const service = memoryService();
  const { ctx, storage, clock } = service;
  const { merchant } = await verifiedMerchant(ctx);
  const chain = new SimChain();
  const instance = (holder: string) => {
    const lease = new Lease(storage.leases, holder, TTL_MS, () => clock.ms);
    const batcher = new Batcher({
      ctx,
      chain,
      lease,
      confirmations: opts.confirmations ?? 1,
      ...(opts.maxInFlight !== undefined && { maxInFlight: opts.maxInFlight }),
      maxLeaves: opts.maxLeaves ?? 100,
      maxAgeMs: MAX_AGE_MS,
      tickMs: 50,
      log: pino({ level: 'silent' }),
    });
    return { lease, batcher };
  };
  let registered = 0;
  const register = async (n: number) => {
    const inputs = Array.from({ length: n }, () => recordBody(`r-${registered++}`));
    return (await registerRecords(ctx, merchant, inputs)).records.map((r) => r.id);
  };
  const batches = async () =>
    (await storage.batches.list(0, 100)).map((b) => `${b.id}:${b.leaf_count}:${b.status}`);
  return { ...service, chain, instance, register, batches };
}

/**
 * Ticks as the running loop would, a few times. A tick advances each batch by one round; the loop
 * goes on within a tick only while the batcher runs (start()), which these tests never call.
 */
async function ticks(batcher: Batcher, n = 4): Promise<void> {
  for (let i = 0; i < n; i++) await batcher.tick();
}

/** Ticks `n` times on a chain mining on its clock: a block after each tick. */
async function ticksMining(
  c: Awaited<ReturnType<typeof cluster>>,
  batcher: Batcher,
  n: number,
): Promise<void> {
  for (let i = 0; i < n; i++) {
    await batcher.tick();
    c.chain.mine();
  }
}

/** Arms one failure, runs a tick, and checks it failed with exactly that injected failure. */
async function tickFailing(
  c: Awaited<ReturnType<typeof cluster>>,
  batcher: Batcher,
  operation: FaultOperation,
  when: FaultTiming,
): Promise<void> {
  c.storage.faults.failNext(operation, when);
  await expect(batcher.tick()).rejects.toThrow(InjectedStorageFailure);
  expect(c.storage.faults.pending().size).toBe(0);
}

describe('the batcher on the memory store', () => {
  it('seals once the oldest event has waited BATCH_MAX_AGE_MS, not before, and takes it to final', async () => {
    const c = await cluster();
    const { batcher } = c.instance('a');
    await c.register(2);
    c.clock.advance(MAX_AGE_MS - 1);
    await batcher.tick();
    expect(await c.batches()).toEqual([]);
    expect(batcher.status).toMatchObject({ leader: true, halted: null });
    c.clock.advance(1);
    await ticks(batcher);
    expect(await c.batches()).toEqual(['1:2:final']);
    expect(c.chain.signatures).toBe(1);
  });

  it('BATCH_MAX_LEAVES waiting are sealed at once in full batches; the remainder waits its age', async () => {
    const c = await cluster({ maxLeaves: 3 });
    const { batcher } = c.instance('a');
    await c.register(7);
    await ticks(batcher, 8);
    expect(await c.batches()).toEqual(['1:3:final', '2:3:final']);
    expect(await c.storage.events.unbatched(10)).toMatchObject({ count: 1 });
    c.clock.advance(MAX_AGE_MS);
    await ticks(batcher);
    expect(await c.batches()).toEqual(['1:3:final', '2:3:final', '3:1:final']);
  });

  it("an operator's seal takes everything pending now, in BATCH_MAX_LEAVES batches, on any instance", async () => {
    const c = await cluster({ maxLeaves: 4 });
    const leader = c.instance('a');
    const other = c.instance('b');
    await leader.batcher.tick();
    await c.register(9);
    const sealed = await other.batcher.sealNow();
    expect(sealed.map((b) => b.leaf_count)).toEqual([4, 4, 1]);
    expect(await c.batches()).toEqual(['1:4:sealed', '2:4:sealed', '3:1:sealed']);
    await ticks(leader.batcher, 8);
    expect(await c.batches()).toEqual(['1:4:final', '2:4:final', '3:1:final']);
  });

  it('an instance without the lease neither seals nor anchors', async () => {
    const c = await cluster();
    const leader = c.instance('a');
    const other = c.instance('b');
    await leader.batcher.tick();
    await c.register(1);
    c.clock.advance(MAX_AGE_MS);
    // The leader renews its lease (its own loop would, every third of the TTL).
    expect(await leader.lease.acquire()).toBe(true);
    // Since issue 12 the leader's idle tick reads the chain too (the anchorer's balance, a figure
    // the metrics show): what the other instance asks is counted from here.
    const asked = c.chain.calls.length;
    await other.batcher.tick();
    expect(other.batcher.status.leader).toBe(false);
    expect(await c.batches()).toEqual([]);
    expect(c.chain.calls.slice(asked)).toEqual([]);
  });

  it('the leader dies with its transaction sent: after the TTL another instance leads and anchors that same transaction', async () => {
    const c = await cluster();
    const a = c.instance('a');
    const b = c.instance('b');
    c.chain.automine = false;
    await c.register(3);
    c.clock.advance(MAX_AGE_MS);
    await a.batcher.tick();
    expect(await c.batches()).toEqual(['1:3:submitted']);
    a.batcher.crash();
    await b.batcher.tick();
    expect(b.batcher.status.leader).toBe(false);
    c.clock.advance(TTL_MS + 1);
    await b.batcher.tick();
    expect(b.lease.fence).toMatchObject({ holder: 'b', token: 2 });
    c.chain.mine();
    await ticks(b.batcher);
    expect(await c.batches()).toEqual(['1:3:final']);
    expect(c.chain.signatures).toBe(1);
    expect(c.chain.accepted).toHaveLength(1);
    // Since issue 12 the new leader finds it in the node's pool by hash and does not send it again.
    expect(c.chain.calls.filter((call) => call === 'broadcast')).toHaveLength(1);
  });

  it('a root on chain that is not ours halts anchoring; later ticks touch neither chain nor batches', async () => {
    const c = await cluster();
    const { batcher } = c.instance('a');
    c.chain.anchorAsOther(1, `0x${'bb'.repeat(32)}` as Hex);
    await c.register(1);
    c.clock.advance(MAX_AGE_MS);
    await batcher.tick();
    expect(batcher.status.halted).toMatch(/^batch 1 is anchored on chain with root 0xbbbb/);
    expect(await c.batches()).toEqual(['1:1:sealed']);
    const asked = c.chain.calls.length;
    await c.register(1);
    c.clock.advance(MAX_AGE_MS);
    await batcher.tick();
    expect(c.chain.calls).toHaveLength(asked);
    expect(await c.batches()).toEqual(['1:1:sealed']);
  });
});

describe('the batcher on the memory store with several anchors in flight', () => {
  it('MAX_IN_FLIGHT=3 on a chain mining on its clock: one tick sends three batches before any is mined; the status counts them, then the gas and balance', async () => {
    const c = await cluster({ maxLeaves: 2, maxInFlight: 3 });
    const { batcher } = c.instance('a');
    c.chain.automine = false;
    await c.register(8);
    await batcher.tick();
    expect(await c.batches()).toEqual(['1:2:submitted', '2:2:submitted', '3:2:submitted', '4:2:sealed']);
    expect(batcher.status.anchorsInFlight).toBe(3);
    c.chain.mine();
    await ticksMining(c, batcher, 6);
    expect(await c.batches()).toEqual(['1:2:final', '2:2:final', '3:2:final', '4:2:final']);
    const receipts = await Promise.all(
      (await c.storage.batches.list(0, 10)).map(async (b) => (await c.chain.receipt(b.tx_hash as Hex))!),
    );
    const spent = receipts.reduce((wei, r) => wei + r.gasUsed * r.gasPrice, 0n);
    expect(batcher.status).toMatchObject({
      anchorsInFlight: 0,
      consecutiveFailures: 0,
      rpcErrors: {},
      gasUsed: receipts.reduce((gas, r) => gas + r.gasUsed, 0n),
      gasSpentWei: spent,
      anchorerBalanceWei: c.chain.funds - spent,
    });
    expect([c.chain.signatures, c.chain.accepted.length, c.chain.breaches]).toEqual([4, 4, []]);
  });

  it('the leader dies with three anchors in flight: after the TTL another instance leads and anchors those same transactions, signing and sending nothing', async () => {
    const c = await cluster({ maxLeaves: 1, maxInFlight: 3 });
    const a = c.instance('a');
    const b = c.instance('b');
    c.chain.automine = false;
    await c.register(3);
    await a.batcher.tick();
    expect(await c.batches()).toEqual(['1:1:submitted', '2:1:submitted', '3:1:submitted']);
    a.batcher.crash();
    c.clock.advance(TTL_MS + 1);
    await b.batcher.tick();
    expect(b.lease.fence).toMatchObject({ holder: 'b', token: 2 });
    c.chain.mine();
    await ticksMining(c, b.batcher, 3);
    expect(await c.batches()).toEqual(['1:1:final', '2:1:final', '3:1:final']);
    expect(c.chain.signatures).toBe(3);
    expect(c.chain.calls.filter((call) => call === 'broadcast')).toHaveLength(3);
  });

  it('a root not ours found under the lowest id while two more are in flight halts anchoring: nothing more signed or saved', async () => {
    const c = await cluster({ maxLeaves: 1, maxInFlight: 3 });
    const { batcher } = c.instance('a');
    c.chain.automine = false;
    await c.register(3);
    await batcher.tick();
    c.chain.anchorAsOther(1, `0x${'bb'.repeat(32)}` as Hex);
    await batcher.tick();
    expect(batcher.status.halted).toMatch(/^batch 1 is anchored on chain with root 0xbbbb/);
    await ticksMining(c, batcher, 3);
    expect(await c.batches()).toEqual(['1:1:submitted', '2:1:submitted', '3:1:submitted']);
    expect(c.chain.signatures).toBe(3);
  });

  it("CONFIRMATIONS=finalized: final only once the node's finalized block reaches the anchor's; the status tells how old that block is", async () => {
    const c = await cluster({ confirmations: { kind: 'tag', tag: 'finalized' } });
    c.chain.finalizedLag = 3;
    const { batcher } = c.instance('a');
    await c.register(2);
    c.clock.advance(MAX_AGE_MS);
    await ticks(batcher);
    expect(await c.batches()).toEqual(['1:2:anchored']);
    expect(batcher.status).toMatchObject({ finalityStalled: null });
    expect(batcher.status.finalizedHeadAgeSeconds).toBeGreaterThanOrEqual(0);
    c.chain.mine();
    c.chain.mine();
    await ticks(batcher);
    expect(await c.batches()).toEqual(['1:2:anchored']);
    c.chain.mine();
    await batcher.tick();
    expect(await c.batches()).toEqual(['1:2:final']);
  });
});

describe("the batcher's lease and seal writes failing on the memory store", () => {
  it('taking the lease refused before it persists: nothing sealed, nobody leads; the next tick leads and seals', async () => {
    const c = await cluster();
    const a = c.instance('a');
    const b = c.instance('b');
    await c.register(2);
    c.clock.advance(MAX_AGE_MS);
    await tickFailing(c, a.batcher, 'leases.acquire', 'before-persist');
    expect(a.batcher.status.leader).toBe(false);
    expect(await c.batches()).toEqual([]);
    // Nothing was written: the lease is free for whoever asks next.
    expect(await b.lease.acquire()).toBe(true);
    await b.lease.release();
    await ticks(a.batcher);
    expect(await c.batches()).toEqual(['1:2:final']);
  });

  it('taking the lease failed after it persisted: no one else can take it, and the next tick leads with the same token', async () => {
    const c = await cluster();
    const a = c.instance('a');
    const b = c.instance('b');
    await c.register(2);
    c.clock.advance(MAX_AGE_MS);
    await tickFailing(c, a.batcher, 'leases.acquire', 'after-persist');
    expect(await c.batches()).toEqual([]);
    await b.batcher.tick();
    expect(b.batcher.status.leader).toBe(false);
    await ticks(a.batcher);
    expect(a.lease.fence).toMatchObject({ holder: 'a', token: 1 });
    expect(await c.batches()).toEqual(['1:2:final']);
  });

  it('a renewal refused while leading: once the lease expires another instance leads and the first stops', async () => {
    const c = await cluster();
    const a = c.instance('a');
    const b = c.instance('b');
    await a.batcher.tick();
    c.clock.advance(TTL_MS / 2);
    await tickFailing(c, a.batcher, 'leases.acquire', 'before-persist');
    c.clock.advance(TTL_MS);
    await b.batcher.tick();
    expect(b.lease.fence).toMatchObject({ holder: 'b', token: 2 });
    await a.batcher.tick();
    expect(a.batcher.status.leader).toBe(false);
  });

  it.each([
    ['commit', 'before-persist'],
    ['events.assignOldestUnbatched', 'after-persist'],
    ['batches.insertSealed', 'before-persist'],
    ['batches.insertSealed', 'after-persist'],
  ] as const)(
    'sealing in a tick, %s %s: nothing sealed; the next tick seals and anchors it',
    async (op, when) => {
      const c = await cluster();
      const { batcher } = c.instance('a');
      await c.register(3);
      c.clock.advance(MAX_AGE_MS);
      await tickFailing(c, batcher, op, when);
      expect(await c.batches()).toEqual([]);
      expect(await c.storage.events.unbatched(10)).toMatchObject({ count: 3 });
      await ticks(batcher);
      expect(await c.batches()).toEqual(['1:3:final']);
    },
  );

  it('sealing in a tick, commit after-persist: the batch is kept; the next tick anchors it and seals nothing twice', async () => {
    const c = await cluster();
    const { batcher } = c.instance('a');
    const ids = await c.register(3);
    c.clock.advance(MAX_AGE_MS);
    await tickFailing(c, batcher, 'commit', 'after-persist');
    expect(await c.batches()).toEqual(['1:3:sealed']);
    expect(c.chain.calls).toEqual([]);
    await ticks(batcher);
    expect(await c.batches()).toEqual(['1:3:final']);
    const events = await Promise.all(ids.map((id) => c.storage.events.ofRecord(id)));
    expect(events.flat().map((e) => e.batch_id)).toEqual([1, 1, 1]);
  });
});
