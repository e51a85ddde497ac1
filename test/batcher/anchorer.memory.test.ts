/**
 * The anchorer (src/batcher/anchorer.ts) on the memory store's real BatchStore and LeaseStore, with
 * a simulated chain (sim-chain.ts): whole batch lives (sealed to final, a reorg before and after
 * final, a transaction held but unmined, a revert, an anchor found on chain), a lease handed over
 * mid-pass, and every batch transition failed before and after it persists. Where
 * anchorer-shell.test.ts pins each pass's calls against a fake store, this shows the passes add up
 * to the right end state against the store the service uses. No chain, no database: milliseconds.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import {
  advanceBatches,
  AnchorConflictError,
  LeaseLostError,
  recheckFinalBatches,
  type AnchorerDeps,
} from '../../src/batcher/anchorer.ts';
import { Lease } from '../../src/batcher/lease.ts';
import type { Hex } from '../../src/core/index.ts';
import { sealBatch } from '../../src/service/batches.ts';
import { verdictFor } from '../../src/service/verdicts.ts';
import { InjectedStorageFailure, type FaultTiming } from '../../src/storage/memory/faults.ts';
import type { BatchRow, BatchStatus } from '../../src/storage/rows.ts';
import { memoryService } from '../helpers/memory-context.ts';
import { seedRecords } from '../storage/fixtures.ts';
import { GWEI, SimChain } from './sim-chain.ts';

const OTHER_ROOT = `0x${'bb'.repeat(32)}` as Hex;
const TTL_MS = 5_000;
const silent = pino({ level: 'silent' });

/**
 * A memory service with `batches` sealed batches of two fixed records each (the same roots every
 * run), a simulated chain, and one instance leading: the anchorer lease taken on a clock the test
 * moves.
 */
async function rig(opts: { confirmations?: number; batches?: number } = {}) {
  const service = memoryService();
  const { ctx, storage } = service;
  for (let b = 1; b <= (opts.batches ?? 1); b++) {
    await seedRecords(storage, 'm1', [`b${b}-r1`, `b${b}-r2`]);
    await sealBatch(ctx, 100);
  }
  const chain = new SimChain();
  const time = { ms: 0 };
  const instance = (holder: string) => {
    const lease = new Lease(storage.leases, holder, TTL_MS, () => time.ms);
    const deps: AnchorerDeps = {
      batches: storage.batches,
      chain,
      fence: () => lease.fence,
      onLeaseLost: () => lease.abandon(),
      confirmations: opts.confirmations ?? 1,
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
  const statuses = async () => (await storage.batches.list(0, 100)).map((b) => b.status);
  /** Passes, mining a block after each, until every batch is final (at most `rounds` passes). */
  const untilFinal = async (rounds = 10) => {
    for (let i = 0; i < rounds; i++) {
      await leader.pass();
      if ((await statuses()).every((s) => s === 'final')) return;
      chain.mine();
    }
    throw new Error(`not final after ${rounds} passes: ${(await statuses()).join(', ')}`);
  };
  return { ...service, chain, time, instance, leader, batch, statuses, untilFinal };
}

type Rig = Awaited<ReturnType<typeof rig>>;

/** The chain holds exactly the stored batches' roots under their ids, and each batch is final with it. */
async function expectAnchoredAsStored(r: Rig): Promise<void> {
  const stored = await r.storage.batches.list(0, 100);
  expect(stored.map((b) => [b.id, b.status, b.chain_root])).toEqual(
    stored.map((b) => [b.id, 'final', b.root]),
  );
  expect(r.chain.anchoredRoots()).toEqual(new Map(stored.map((b) => [b.id, b.root])));
}

describe('the anchorer on the memory store: whole lives', () => {
  it('sealed to final on an automining chain: each batch signed once, sent once, its records genuine', async () => {
    const r = await rig({ batches: 2, confirmations: 2 });
    await r.untilFinal();
    await expectAnchoredAsStored(r);
    expect(r.chain.signatures).toBe(2);
    expect(r.chain.accepted).toHaveLength(2);
    const verdict = await verdictFor(r.ctx, r.chain, silent, 'b1-r1', { scan: null });
    expect(verdict.verdict).toBe('genuine');
  });

  it('a transaction the node holds but has not mined is sent again each pass, never signed again', async () => {
    const r = await rig();
    r.chain.automine = false;
    const broadcasts = () => r.chain.calls.filter((c) => c === 'broadcast').length;
    // Sent, and in the same pass looked at again: the node already holds it.
    await r.leader.pass();
    expect(broadcasts()).toBe(2);
    await r.leader.pass();
    await r.leader.pass();
    expect(broadcasts()).toBe(4);
    expect(await r.statuses()).toEqual(['submitted']);
    expect(r.chain.accepted).toHaveLength(1);
    r.chain.mine();
    await r.leader.pass();
    await expectAnchoredAsStored(r);
    expect(r.chain.signatures).toBe(1);
  });

  it('reorged before final: back to submitted, the same transaction sent again, final in its new block', async () => {
    const r = await rig({ confirmations: 3 });
    await r.leader.pass();
    const first = await r.batch();
    expect(first).toMatchObject({ status: 'anchored', block_number: 1 });
    r.chain.reorg(1);
    await r.leader.pass();
    expect((await r.batch()).status).toBe('submitted');
    await r.untilFinal();
    await expectAnchoredAsStored(r);
    const final = await r.batch();
    expect(final.tx_hash).toBe(first.tx_hash);
    expect(final.block_hash).not.toBe(first.block_hash);
    expect(r.chain.signatures).toBe(1);
    expect(new Set(r.chain.accepted)).toEqual(new Set([first.raw_tx]));
  });

  it('a reorg deeper than CONFIRMATIONS: the final batch is pending again, then anchored again with its transaction', async () => {
    const r = await rig({ confirmations: 1 });
    await r.untilFinal();
    const first = await r.batch();
    r.chain.mine();
    r.chain.mine();
    r.chain.reorg(3);
    await r.leader.pass();
    // Demoted, sent again and mined in the same pass: not final until the next one looks.
    expect((await r.batch()).status).toBe('submitted');
    expect((await verdictFor(r.ctx, r.chain, silent, 'b1-r1', { scan: null })).verdict).toBe('pending');
    await r.untilFinal();
    await expectAnchoredAsStored(r);
    expect((await r.batch()).tx_hash).toBe(first.tx_hash);
    expect(r.chain.signatures).toBe(1);
  });

  it('a deep reorg reaching two final batches: both demoted, sent again in id order with their own transactions', async () => {
    const r = await rig({ batches: 2, confirmations: 1 });
    await r.untilFinal();
    const before = await r.storage.batches.list(0, 10);
    r.chain.reorg(r.chain.head);
    await r.leader.pass();
    expect(await r.statuses()).toEqual(['submitted', 'submitted']);
    await r.untilFinal();
    await expectAnchoredAsStored(r);
    expect((await r.storage.batches.list(0, 10)).map((b) => b.tx_hash)).toEqual(before.map((b) => b.tx_hash));
    expect(r.chain.signatures).toBe(2);
  });

  it('reverted: signed again at the next nonce and anchored by the second transaction', async () => {
    const r = await rig();
    r.chain.doomNextSignature();
    await r.untilFinal();
    await expectAnchoredAsStored(r);
    expect(r.chain.signatures).toBe(2);
    expect(r.chain.accepted).toHaveLength(2);
  });

  it('our root already on chain under our id (sent by another holder of the key): adopted, nothing signed', async () => {
    const r = await rig();
    const theirs = r.chain.anchorAsOther(1, (await r.batch()).root as Hex, 2);
    await r.untilFinal();
    await expectAnchoredAsStored(r);
    expect(await r.batch()).toMatchObject({ tx_hash: theirs.txHash, raw_tx: null });
    expect(r.chain.signatures).toBe(0);
  });

  it('adopted, then its block reorged away: we never held that transaction, so we sign our own and anchor it', async () => {
    const r = await rig({ confirmations: 3 });
    const theirs = r.chain.anchorAsOther(1, (await r.batch()).root as Hex, 2);
    await r.leader.pass();
    expect(await r.batch()).toMatchObject({ status: 'anchored', tx_hash: theirs.txHash });
    r.chain.reorg(1);
    await r.untilFinal();
    await expectAnchoredAsStored(r);
    expect((await r.batch()).tx_hash).not.toBe(theirs.txHash);
    expect(r.chain.signatures).toBe(1);
  });

  it('another root on chain under our id: AnchorConflictError, and nothing is written', async () => {
    const r = await rig();
    r.chain.anchorAsOther(1, OTHER_ROOT);
    const before = await r.batch();
    await expect(r.leader.pass()).rejects.toThrow(AnchorConflictError);
    expect(await r.batch()).toEqual(before);
    expect(r.chain.signatures).toBe(0);
  });

  it('a later batch waits for the earlier one; both end final in id order', async () => {
    const r = await rig({ batches: 3 });
    r.chain.automine = false;
    await r.leader.pass();
    expect(await r.statuses()).toEqual(['submitted', 'sealed', 'sealed']);
    await r.untilFinal();
    await expectAnchoredAsStored(r);
    expect(r.chain.signatures).toBe(3);
  });
});

describe('the anchorer on the memory store: a lease handed over mid-pass', () => {
  /** Expires the leader's lease and lets instance `b` take it the first time the chain is asked `method`. */
  function handOverAt(r: Rig, method: string) {
    const b = r.instance('b');
    let handed = false;
    r.chain.onCall = async (called) => {
      if (handed || called !== method) return;
      handed = true;
      r.time.ms += TTL_MS + 1;
      expect(await b.lease.acquire()).toBe(true);
    };
    return b;
  }

  it('taken while the leader signs: its save is refused, what it signed is never sent, the new leader anchors once', async () => {
    const r = await rig();
    const b = handOverAt(r, 'signAnchor');
    await expect(r.leader.pass()).rejects.toThrow(LeaseLostError);
    expect(r.leader.lease.fence).toBeNull();
    expect((await r.batch()).status).toBe('sealed');
    expect(r.chain.accepted).toEqual([]);
    await b.pass();
    await expectAnchoredAsStored(r);
    expect(b.lease.fence).toMatchObject({ holder: 'b', token: 2 });
    expect(r.chain.accepted).toHaveLength(1);
  });

  it('taken after the leader sent its transaction: its next save is refused; the new leader adopts the receipt, signing nothing', async () => {
    const r = await rig();
    const b = handOverAt(r, 'receipt');
    await expect(r.leader.pass()).rejects.toThrow(LeaseLostError);
    expect((await r.batch()).status).toBe('submitted');
    await b.pass();
    await expectAnchoredAsStored(r);
    expect(r.chain.signatures).toBe(1);
    expect(r.chain.accepted).toHaveLength(1);
  });

  it('the former leader, refused once, writes nothing more until it takes the lease back', async () => {
    const r = await rig({ confirmations: 2 });
    const b = handOverAt(r, 'receipt');
    await expect(r.leader.pass()).rejects.toThrow(LeaseLostError);
    await expect(r.leader.pass()).rejects.toThrow(new LeaseLostError('not the leader'));
    expect(await r.leader.lease.acquire()).toBe(false);
    await b.pass();
    expect((await r.batch()).status).toBe('anchored');
    await b.lease.release();
    expect(await r.leader.lease.acquire()).toBe(true);
    expect(r.leader.lease.fence).toMatchObject({ holder: 'a', token: 3 });
    r.chain.mine();
    await r.leader.pass();
    await expectAnchoredAsStored(r);
  });
});

/**
 * One transition the anchorer saves: how to bring batch 1 to the state just before it, which state
 * that is, and which state the transition moves it to.
 */
interface TransitionCase {
  name: string;
  confirmations?: number;
  setup(r: Rig): Promise<void>;
  from: BatchStatus;
  to: BatchStatus;
  /** Whether the failed step signs (its retry signs again: the same bytes, never sent twice). */
  signs: boolean;
}

const TRANSITIONS: TransitionCase[] = [
  { name: 'send', setup: async () => {}, from: 'sealed', to: 'submitted', signs: true },
  {
    name: 'mark-anchored',
    async setup(r) {
      r.chain.automine = false;
      await r.leader.pass();
      r.chain.automine = true;
      r.chain.mine();
    },
    from: 'submitted',
    to: 'anchored',
    signs: false,
  },
  {
    name: 'finalize',
    confirmations: 2,
    async setup(r) {
      await r.leader.pass();
      r.chain.mine();
    },
    from: 'anchored',
    to: 'final',
    signs: false,
  },
  {
    name: 'unanchor after a reorg',
    confirmations: 3,
    async setup(r) {
      await r.leader.pass();
      r.chain.reorg(1);
    },
    from: 'anchored',
    to: 'submitted',
    signs: false,
  },
  {
    name: 'adopt',
    async setup(r) {
      r.chain.anchorAsOther(1, (await r.batch()).root as Hex, 2);
    },
    from: 'sealed',
    to: 'anchored',
    signs: false,
  },
  {
    name: 'sign again after a revert',
    async setup(r) {
      r.chain.doomNextSignature();
      r.chain.automine = false;
      await r.leader.pass();
      r.chain.automine = true;
      r.chain.mine();
    },
    from: 'submitted',
    to: 'sealed',
    signs: false,
  },
  {
    name: 'replace after a base fee rise',
    async setup(r) {
      r.chain.automine = false;
      await r.leader.pass();
      r.chain.automine = true;
      r.chain.fee = 5n * GWEI;
    },
    from: 'submitted',
    to: 'submitted',
    signs: true,
  },
  {
    name: 'unanchor a final batch after a deep reorg',
    async setup(r) {
      await r.untilFinal();
      r.chain.mine();
      r.chain.reorg(2);
    },
    from: 'final',
    to: 'submitted',
    signs: false,
  },
];

/** Brings a rig through `c` with the transition failing `when` (or not at all), then to final. */
async function runCase(c: TransitionCase, when: FaultTiming | null) {
  const r = await rig({ confirmations: c.confirmations ?? 1 });
  await c.setup(r);
  const before = await r.batch();
  expect(before.status).toBe(c.from);
  const signedBefore = r.chain.signatures;
  let failedAt: BatchRow | null = null;
  if (when) {
    r.storage.faults.failNext('batches.transition', when);
    await expect(r.leader.pass()).rejects.toThrow(InjectedStorageFailure);
    expect(r.storage.faults.pending().size).toBe(0);
    failedAt = await r.batch();
  }
  await r.untilFinal();
  await expectAnchoredAsStored(r);
  return {
    before,
    failedAt,
    final: await r.batch(),
    accepted: r.chain.accepted,
    signatures: r.chain.signatures - signedBefore,
  };
}

describe("the anchorer's batch transitions failing on the memory store", () => {
  it.each(TRANSITIONS)('$name ($from -> $to): the run without a fault', async (c) => {
    const clean = await runCase(c, null);
    expect(clean.final.status).toBe('final');
  });

  it.each(TRANSITIONS)(
    '$name ($from -> $to) refused before it persists: nothing changed; the next pass ends exactly as without the fault',
    async (c) => {
      const clean = await runCase(c, null);
      const faulted = await runCase(c, 'before-persist');
      expect(faulted.failedAt).toEqual(faulted.before);
      expect(faulted.final).toEqual(clean.final);
      expect(faulted.accepted).toEqual(clean.accepted);
      expect(faulted.signatures).toBe(clean.signatures + (c.signs ? 1 : 0));
    },
  );

  it.each(TRANSITIONS)(
    '$name ($from -> $to) failed after it persists: the next pass goes on from there, signing and sending nothing twice',
    async (c) => {
      const clean = await runCase(c, null);
      const faulted = await runCase(c, 'after-persist');
      expect(faulted.failedAt!.status).toBe(c.to);
      expect(faulted.final).toEqual(clean.final);
      expect(faulted.accepted).toEqual(clean.accepted);
      expect(faulted.signatures).toBe(clean.signatures);
    },
  );
});
