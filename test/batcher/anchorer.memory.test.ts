/**
 * The anchorer (src/batcher/anchorer.ts) on the memory store's real BatchStore and LeaseStore, with
 * a simulated node (sim-chain.ts), one batch at a time: whole batch lives (sealed to final, a reorg
 * before and after final, a transaction held but unmined, a revert, a nonce taken or left behind a
 * gap by another holder of the key, fees a node refuses, an empty account, an anchor found on
 * chain), a lease handed over mid-pass, and every batch transition failed before and after it
 * persists. Where anchorer-shell.test.ts pins each pass's calls against a fake store, this shows the
 * passes add up to the right end state against the store the service uses; several batches in flight
 * are anchorer-pipelined.memory.test.ts. No chain, no database: milliseconds.
 */
import { describe, expect, it } from 'vitest';
import { AnchorConflictError, LeaseLostError } from '../../src/batcher/anchorer.ts';
import { InsufficientFundsError } from '../../src/chain/rpc-provider.ts';
import type { Hex } from '../../src/core/index.ts';
import { freshnessOf } from '../../src/service/freshness.ts';
import { verdictFor } from '../../src/service/verdicts.ts';
import { InjectedStorageFailure, type FaultTiming } from '../../src/storage/memory/faults.ts';
import type { BatchRow, BatchStatus } from '../../src/storage/rows.ts';
import { anchorRig as rig, expectAnchoredAsStored, nonceOf, silent, TTL_MS, type Rig } from './anchor-rig.ts';
import { GWEI } from './sim-chain.ts';

const OTHER_ROOT = `0x${'bb'.repeat(32)}` as Hex;

describe('the anchorer on the memory store: whole lives', () => {
  it('sealed to final on an automining chain: each batch signed once, sent once, its records genuine', async () => {
    const r = await rig({ batches: 2, finality: 2 });
    await r.untilFinal();
    await expectAnchoredAsStored(r);
    expect(r.chain.signatures).toBe(2);
    expect(r.chain.accepted).toHaveLength(2);
    expect(r.figures.refused).toEqual([]);
    const verdict = await verdictFor(r.ctx, r.chain, silent, 'b1-r1', { scan: null });
    expect(verdict.verdict).toBe('genuine');
  });

  it('a registry without anchorWithState: anchored with anchor, its state root cleared, freshness unconfirmed', async () => {
    const r = await rig();
    expect((await r.batch()).state_root).toMatch(/^0x[0-9a-f]{64}$/);
    await r.untilFinal();
    await expectAnchoredAsStored(r);
    expect((await r.batch()).state_root).toBeNull();
    expect(await r.ctx.storage.batches.latestAnchoredState()).toBeUndefined();
    const [issuance] = await r.ctx.storage.events.ofRecord('b1-r1');
    expect(
      await freshnessOf(r.ctx, { recordId: 'b1-r1', seq: 0, leaf: issuance!.leaf as Hex }),
    ).toMatchObject({ status: 'unconfirmed', asOfBatch: null });
  });

  it('a transaction the node holds but has not mined is neither sent again nor signed again', async () => {
    const r = await rig();
    r.chain.automine = false;
    const broadcasts = () => r.chain.calls.filter((c) => c === 'broadcast').length;
    // Sent once. Before issue 12 each pass sent it again and counted on the node's "already known";
    // now each pass asks the node for it by hash (eth_getTransactionByHash), finds it held, and waits:
    // a resend was what anvil answered in words the anchorer did not know, failing the step.
    await r.leader.pass();
    expect(broadcasts()).toBe(1);
    await r.leader.pass();
    await r.leader.pass();
    expect(broadcasts()).toBe(1);
    expect(r.chain.calls.filter((c) => c === 'transaction')).toHaveLength(3);
    expect(await r.statuses()).toEqual(['submitted']);
    expect(r.chain.accepted).toHaveLength(1);
    r.chain.mine();
    await r.leader.pass();
    await expectAnchoredAsStored(r);
    expect(r.chain.signatures).toBe(1);
    expect(r.figures.refused).toEqual([]);
  });

  it('reorged before final: back to submitted, the same transaction sent again, final in its new block', async () => {
    const r = await rig({ finality: 3 });
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
    const r = await rig({ finality: 1 });
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
    const r = await rig({ batches: 2, finality: 1 });
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

  it('another holder of the key takes the nonce of our unmined anchor: signed again at the next nonce, anchored once', async () => {
    const r = await rig();
    r.chain.automine = false;
    await r.leader.pass();
    const first = await r.batch();
    r.chain.takeNonce(nonceOf(first));
    await r.untilFinal();
    await expectAnchoredAsStored(r);
    expect(nonceOf(await r.batch())).toBe(nonceOf(first) + 1);
    expect(r.chain.signatures).toBe(2);
    expect(r.figures.refused).toEqual([]);
  });

  it('our anchor waits behind a nonce gap another holder of the key left: signed again at the free nonce; the stale one, mined after it, reverts', async () => {
    const r = await rig();
    r.chain.automine = false;
    const transfer = r.chain.sendAsHolder(0);
    await r.leader.pass();
    const stale = await r.batch();
    expect(nonceOf(stale)).toBe(1);
    r.chain.drop(transfer.txHash);
    await r.leader.pass();
    expect(await r.batch()).toMatchObject({ status: 'submitted' });
    expect(nonceOf(await r.batch())).toBe(0);
    await r.untilFinal();
    await expectAnchoredAsStored(r);
    expect(await r.chain.receipt(stale.tx_hash as Hex)).toMatchObject({ status: 'reverted' });
    expect(r.chain.signatures).toBe(2);
  });

  it('dropped, then outgrown by the base fee, on a node that refuses it for that (anvil): signed again at its nonce with fees that pay', async () => {
    const r = await rig();
    r.chain.automine = false;
    r.chain.refusesUnderBaseFee = true;
    await r.leader.pass();
    const first = await r.batch();
    r.chain.drop(first.tx_hash as Hex);
    r.chain.fee = 5n * GWEI;
    await r.leader.pass();
    const second = await r.batch();
    expect(second).toMatchObject({ status: 'submitted' });
    expect([nonceOf(second), second.tx_hash === first.tx_hash]).toEqual([nonceOf(first), false]);
    expect(r.figures.refused).toEqual(['fee-too-low']);
    r.chain.mine();
    await r.untilFinal();
    await expectAnchoredAsStored(r);
    expect(r.chain.signatures).toBe(2);
  });

  it('an empty anchorer account: each step fails naming the account; once funded the saved transaction is sent, signed once', async () => {
    const r = await rig();
    r.chain.funds = 0n;
    await expect(r.leader.pass()).rejects.toThrow(InsufficientFundsError);
    expect(await r.statuses()).toEqual(['submitted']);
    await expect(r.leader.pass()).rejects.toThrow(
      /^anchorer 0x[0-9a-fA-F]{40} has insufficient funds to anchor batch 1/,
    );
    expect(r.chain.accepted).toEqual([]);
    r.chain.funds = 10n ** 18n;
    await r.untilFinal();
    await expectAnchoredAsStored(r);
    expect(r.chain.signatures).toBe(1);
    expect(r.figures.refused).toEqual(['insufficient-funds', 'insufficient-funds']);
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
    const r = await rig({ finality: 3 });
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

  it('MAX_IN_FLIGHT=1: a later batch waits for the earlier one to be mined; all end final in id order', async () => {
    // Before issue 12 this was the only rule; now it is a window of one (pipelined: the other file).
    const r = await rig({ batches: 3, maxInFlight: 1 });
    r.chain.automine = false;
    await r.leader.pass();
    expect(await r.statuses()).toEqual(['submitted', 'sealed', 'sealed']);
    await r.untilFinal();
    await expectAnchoredAsStored(r);
    expect(r.chain.signatures).toBe(3);
    expect((await r.rows()).map((b) => b.block_number)).toEqual([1, 2, 3]);
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
    const r = await rig({ finality: 2 });
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
  /** CONFIRMATIONS in blocks; 1 unless given. */
  finality?: number;
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
    finality: 2,
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
    finality: 3,
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
  {
    name: 'sign again: its nonce taken',
    async setup(r) {
      r.chain.automine = false;
      await r.leader.pass();
      r.chain.automine = true;
      r.chain.takeNonce(0);
    },
    from: 'submitted',
    to: 'sealed',
    signs: false,
  },
  {
    name: 'sign again: behind a nonce gap',
    async setup(r) {
      r.chain.automine = false;
      const transfer = r.chain.sendAsHolder(0);
      await r.leader.pass();
      r.chain.drop(transfer.txHash);
      r.chain.automine = true;
    },
    from: 'submitted',
    to: 'sealed',
    signs: false,
  },
  {
    name: 'sign again: its fees refused',
    async setup(r) {
      r.chain.automine = false;
      r.chain.refusesUnderBaseFee = true;
      await r.leader.pass();
      r.chain.drop((await r.batch()).tx_hash as Hex);
      r.chain.fee = 5n * GWEI;
      r.chain.automine = true;
    },
    from: 'submitted',
    to: 'sealed',
    signs: false,
  },
];

/** Brings a rig through `c` with the transition failing `when` (or not at all), then to final. */
async function runCase(c: TransitionCase, when: FaultTiming | null) {
  const r = await rig({ finality: c.finality ?? 1 });
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
