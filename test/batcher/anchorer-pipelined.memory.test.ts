/**
 * The anchorer with several anchors in flight (MAX_IN_FLIGHT), on the memory store and a simulated
 * node mining a block only when told, as a chain mining on its clock does: sent at consecutive nonces
 * in id order before any is mined; a reorg of several in-flight anchors; one of them dropped; a nonce
 * taken below others in flight (the contract's gapless ids the last guard: those above revert and
 * are signed again in order); the base fee outgrowing them, with the lowest dropped meanwhile on a
 * node that refuses underpriced transactions (the case that found the wait before a nonce gap in
 * decide.ts); the node unreachable, and the lease handed over, between two sends;
 * CONFIRMATIONS=safe|finalized against a tag that trails the head; and every transition of such runs
 * failed after it persists. The same cases on real nodes: test/faults/pipelined-suite.ts. No chain,
 * no database: milliseconds.
 */
import { describe, expect, it } from 'vitest';
import { LeaseLostError } from '../../src/batcher/anchorer.ts';
import type { FinalityTag } from '../../src/chain/finality.ts';
import type { Hex } from '../../src/core/index.ts';
import { verdictFor } from '../../src/service/verdicts.ts';
import { InjectedStorageFailure, type FaultTiming } from '../../src/storage/memory/faults.ts';
import type { BatchRow } from '../../src/storage/rows.ts';
import { anchorRig as rig, expectAnchoredAsStored, nonceOf, silent, TTL_MS, type Rig } from './anchor-rig.ts';
import { GWEI } from './sim-chain.ts';

const broadcasts = (r: Rig) => r.chain.calls.filter((c) => c === 'broadcast').length;

describe('several anchors in flight on a chain mining on its clock', () => {
  it('a window of three: sent at consecutive nonces in id order before any is mined; each signed once and sent once, no refusal', async () => {
    const r = await rig({ batches: 5, maxInFlight: 3, interval: true, finality: 2 });
    await r.leader.pass();
    expect(await r.statuses()).toEqual(['submitted', 'submitted', 'submitted', 'sealed', 'sealed']);
    expect(r.figures.inFlight.at(-1)).toBe(3);
    expect(await r.untilFinal()).toBe(4);
    await expectAnchoredAsStored(r);
    const rows = await r.rows();
    expect(rows.map(nonceOf)).toEqual([0, 1, 2, 3, 4]);
    // The pass that sees the first three mined sends the last two in the same breath.
    expect(rows.map((b) => b.block_number)).toEqual([1, 1, 1, 2, 2]);
    expect([broadcasts(r), r.chain.signatures]).toEqual([5, 5]);
    expect(r.figures.refused).toEqual([]);
    expect(r.figures.spent.map((receipt) => receipt.status)).toEqual(Array(5).fill('success'));
  });

  it.each(['dropped', 'pooled'] as const)(
    'a reorg takes three anchors off the chain, their transactions %s: back to submitted, each anchored again by its own transaction',
    async (orphans) => {
      const r = await rig({ batches: 3, interval: true, finality: 3 });
      await r.leader.pass();
      r.chain.mine();
      await r.leader.pass();
      const before = await r.rows();
      expect(before.map((b) => [b.status, b.block_number])).toEqual(Array(3).fill(['anchored', 1]));
      r.chain.mine();
      r.chain.reorg(2, orphans);
      await r.leader.pass();
      expect(await r.statuses()).toEqual(['submitted', 'submitted', 'submitted']);
      // Gone with the block, each is sent again as it was signed; pooled again, none is sent.
      expect(r.chain.pooled().sort()).toEqual(before.map((b) => b.tx_hash).sort());
      expect(broadcasts(r)).toBe(orphans === 'dropped' ? 6 : 3);
      await r.untilFinal();
      await expectAnchoredAsStored(r);
      const after = await r.rows();
      expect(after.map((b) => b.tx_hash)).toEqual(before.map((b) => b.tx_hash));
      for (const [i, b] of after.entries()) expect(b.block_hash).not.toBe(before[i]!.block_hash);
      expect(r.chain.signatures).toBe(3);
    },
  );

  it.each([1, 2, 3])(
    'batch %i of three in flight dropped from the pool: it alone is sent again, the same transaction; nothing signed again',
    async (dropped) => {
      const r = await rig({ batches: 3, interval: true });
      await r.leader.pass();
      const before = await r.rows();
      r.chain.drop(before[dropped - 1]!.tx_hash as Hex);
      await r.leader.pass();
      expect(broadcasts(r)).toBe(4);
      expect(r.chain.pooled().sort()).toEqual(before.map((b) => b.tx_hash).sort());
      await r.untilFinal();
      await expectAnchoredAsStored(r);
      const after = await r.rows();
      expect(after.map((b) => [b.tx_hash, b.block_number])).toEqual(before.map((b) => [b.tx_hash, 1]));
      expect(r.chain.signatures).toBe(3);
      expect(r.figures.refused).toEqual([]);
    },
  );

  it('another holder of the key takes the nonce of the lowest of three in flight: the two above revert, all three are signed again in order, and a fourth is sent only after them', async () => {
    const r = await rig({ batches: 3, maxInFlight: 4, interval: true });
    await r.leader.pass();
    r.chain.takeNonce(0);
    await r.seal();
    await r.leader.pass();
    // 1 is signed again at 3, above 2 and 3 (at 1 and 2), which will revert: 4 is not sent above them.
    expect(await r.statuses()).toEqual(['submitted', 'submitted', 'submitted', 'sealed']);
    expect((await r.rows()).slice(0, 3).map(nonceOf)).toEqual([3, 1, 2]);
    r.chain.mine();
    await r.untilFinal();
    await expectAnchoredAsStored(r);
    expect((await r.rows()).map(nonceOf)).toEqual([3, 4, 5, 6]);
    expect(r.figures.spent.filter((receipt) => receipt.status === 'reverted')).toHaveLength(2);
    expect(r.chain.signatures).toBe(7);
  });

  it('the base fee outgrows three anchors in flight: each replaced at its own nonce, anchored once', async () => {
    const r = await rig({ batches: 3, interval: true });
    await r.leader.pass();
    const before = await r.rows();
    r.chain.fee = 10n * GWEI;
    r.chain.mine();
    await r.leader.pass();
    const replaced = await r.rows();
    expect(replaced.map(nonceOf)).toEqual(before.map(nonceOf));
    for (const [i, b] of replaced.entries()) expect(b.tx_hash).not.toBe(before[i]!.tx_hash);
    await r.untilFinal();
    await expectAnchoredAsStored(r);
    expect((await r.rows()).map((b) => b.tx_hash)).toEqual(replaced.map((b) => b.tx_hash));
    expect(r.chain.signatures).toBe(6);
  });

  it('the lowest of three in flight dropped while the base fee outgrew all three, on a node that refuses such a transaction (anvil): signed again at its own nonce, the two above replaced at theirs, none signed over', async () => {
    const r = await rig({ batches: 3, interval: true });
    r.chain.refusesUnderBaseFee = true;
    await r.leader.pass();
    const before = await r.rows();
    r.chain.drop(before[0]!.tx_hash as Hex);
    r.chain.fee = 10n * GWEI;
    await r.leader.pass();
    // The two above wait behind the gap the lowest leaves until it is signed again into it (before
    // issue 12's fix they were signed again above it, their held anchors left underpriced in front).
    const after = await r.rows();
    expect(after.map((b) => [b.status, nonceOf(b)])).toEqual([
      ['submitted', 0],
      ['submitted', 1],
      ['submitted', 2],
    ]);
    expect(r.figures.refused).toEqual(['fee-too-low']);
    r.chain.mine();
    await r.leader.pass();
    await expectAnchoredAsStored(r);
    expect((await r.rows()).map((b) => b.block_number)).toEqual([1, 1, 1]);
    expect(r.chain.signatures).toBe(6);
  });

  it('the node unreachable as the second of three is sent: the step fails; once it is back, that saved transaction is sent and nothing signed again', async () => {
    const r = await rig({ batches: 3, interval: true });
    let sends = 0;
    r.chain.onCall = (method) => {
      if (method === 'broadcast' && ++sends === 2) r.chain.down = true;
    };
    await expect(r.leader.pass()).rejects.toThrow(/^RPC unreachable/);
    expect(await r.statuses()).toEqual(['submitted', 'submitted', 'sealed']);
    expect(r.chain.accepted).toHaveLength(1);
    r.chain.down = false;
    await r.untilFinal();
    await expectAnchoredAsStored(r);
    expect((await r.rows()).map(nonceOf)).toEqual([0, 1, 2]);
    expect([r.chain.signatures, r.chain.accepted.length]).toEqual([3, 3]);
  });

  it('the lease taken while the leader signs the second of three: what it signed is never sent; the new leader sends the rest once each, at the nonces that follow', async () => {
    const r = await rig({ batches: 3, interval: true });
    const b = r.instance('b');
    let signs = 0;
    r.chain.onCall = async (method) => {
      if (method !== 'signAnchor' || ++signs !== 2) return;
      r.time.ms += TTL_MS + 1;
      expect(await b.lease.acquire()).toBe(true);
    };
    await expect(r.leader.pass()).rejects.toThrow(LeaseLostError);
    expect(await r.statuses()).toEqual(['submitted', 'sealed', 'sealed']);
    expect(r.chain.accepted).toHaveLength(1);
    await r.untilFinal(10, b);
    await expectAnchoredAsStored(r);
    expect((await r.rows()).map(nonceOf)).toEqual([0, 1, 2]);
    expect(r.chain.accepted).toHaveLength(3);
  });
});

describe('CONFIRMATIONS=safe|finalized against a node whose tag trails its head', () => {
  it.each([
    ['safe', 2],
    ['finalized', 4],
  ] as Array<[FinalityTag, number]>)(
    '%s, %i blocks behind: no batch final before the tag reaches its block, each final in the pass after; verdicts follow',
    async (tag, lag) => {
      const r = await rig({ batches: 4, maxInFlight: 2, interval: true, finality: { kind: 'tag', tag } });
      if (tag === 'safe') r.chain.safeLag = lag;
      else r.chain.finalizedLag = lag;
      for (let round = 0; round < 20; round++) {
        await r.leader.pass();
        const mark = r.chain.tagged(tag);
        for (const b of await r.rows()) {
          if (b.status === 'final') expect(b.block_number).toBeLessThanOrEqual(mark);
          if (b.status === 'anchored') expect(b.block_number).toBeGreaterThan(mark);
        }
        const { verdict } = await verdictFor(r.ctx, r.chain, silent, 'b1-r1', { scan: null });
        expect(verdict).toBe((await r.batch(1)).status === 'final' ? 'genuine' : 'pending');
        if ((await r.statuses()).every((s) => s === 'final')) break;
        r.chain.mine();
      }
      await expectAnchoredAsStored(r);
      const rows = await r.rows();
      expect(rows.map((b) => b.block_number)).toEqual([1, 1, 2, 2]);
      expect(r.chain.head).toBe(2 + lag);
    },
  );
});

/**
 * A pipelined run: sealed batches, a window, and something the chain does once, right after the
 * first pass whose end state `when` matches (before the block that pass waits for is mined). Unless
 * the event needs blocks to happen (`minesBefore`), the chain mines nothing until it: a failure that
 * delays the passes before it then meets the event in the same state as the run without a fault.
 */
interface PipelinedRun {
  name: string;
  batches: number;
  maxInFlight: number;
  finality: number;
  event?: {
    when(rows: BatchRow[]): boolean;
    act(r: Rig, rows: BatchRow[]): void;
    minesBefore?: boolean;
  };
  /**
   * The event may meet an anchor saved but not yet sent (a failure after its save): then it can end
   * signed at other fees than without the fault, at the same nonce. Each batch's nonce is compared.
   */
  feesMayDiffer?: true;
}

const allIn = (rows: BatchRow[], status: BatchRow['status']) => rows.every((b) => b.status === status);

const RUNS: PipelinedRun[] = [
  { name: 'two in flight and a third behind them', batches: 3, maxInFlight: 2, finality: 2 },
  {
    name: 'a reorg takes three anchored batches off the chain',
    batches: 3,
    maxInFlight: 3,
    finality: 3,
    event: {
      when: (rows) => allIn(rows, 'anchored'),
      act: (r, rows) => r.chain.reorg(r.chain.head - Math.min(...rows.map((b) => b.block_number!)) + 1),
      minesBefore: true,
    },
  },
  {
    name: 'the lowest of three in flight dropped while the base fee outgrew them, on anvil',
    batches: 3,
    maxInFlight: 3,
    finality: 1,
    event: {
      when: (rows) => allIn(rows, 'submitted'),
      act: (r, rows) => {
        r.chain.refusesUnderBaseFee = true;
        r.chain.drop(rows[0]!.tx_hash as Hex);
        r.chain.fee = 10n * GWEI;
      },
    },
    // Batch 3 saved, not sent, when the fee rises: the node refuses it, and it is signed again at
    // its nonce instead of replaced there.
    feesMayDiffer: true,
  },
  {
    name: 'the nonce of the lowest of three in flight taken by another holder of the key',
    batches: 3,
    maxInFlight: 3,
    finality: 1,
    event: {
      when: (rows) => allIn(rows, 'submitted'),
      act: (r, rows) => r.chain.takeNonce(nonceOf(rows[0]!)),
    },
  },
];

/**
 * Runs `run` to the end, pass after pass with a block mined after each, the n-th batch transition
 * failing `fault.when` if given (the failed pass ends there, as a batcher's tick does, and the chain
 * mines on regardless). Returns what the run left behind.
 */
async function pipelined(run: PipelinedRun, fault?: { n: number; when: FaultTiming }) {
  const r = await rig({
    batches: run.batches,
    maxInFlight: run.maxInFlight,
    finality: run.finality,
    interval: true,
  });
  if (fault) r.transitions.failAt = fault;
  let failures = 0;
  let fired = false;
  for (let round = 0; ; round++) {
    if (round === 30) throw new Error(`not final after 30 passes: ${(await r.statuses()).join(', ')}`);
    await r.leader.pass().catch((err: unknown) => {
      if (!(err instanceof InjectedStorageFailure)) throw err;
      failures++;
    });
    const rows = await r.rows();
    if (allIn(rows, 'final')) break;
    if (run.event && !fired && run.event.when(rows)) {
      run.event.act(r, rows);
      fired = true;
    }
    if (fired || !run.event || run.event.minesBefore) r.chain.mine();
  }
  await expectAnchoredAsStored(r);
  expect(fired).toBe(run.event !== undefined);
  expect(failures).toBe(fault ? 1 : 0);
  return {
    rows: await r.rows(),
    accepted: [...r.chain.accepted].sort(),
    signatures: r.chain.signatures,
    transitions: r.transitions.count,
  };
}

/**
 * A row as the run leaves it, without the block it ended in (a failed pass may cost a block), and
 * with its transaction's nonce in place of the transaction where fees may differ.
 */
function ended(row: BatchRow, run: PipelinedRun) {
  const { block_number: _n, block_hash: _h, raw_tx, tx_hash, ...rest } = row;
  return run.feesMayDiffer ? { ...rest, nonce: nonceOf(row) } : { ...rest, raw_tx, tx_hash };
}

/**
 * Each run with every transition failed after it persists: the crash several anchors in flight must
 * survive (a state saved, the step after it not taken). Failed before it persists, a pass ends as a
 * lost connection ends it; that is shown for every kind of transition in anchorer.memory.test.ts, and
 * with several in flight here in the run without an event, to keep this file fast.
 */
const FAULTED = RUNS.flatMap((run) =>
  (run.event ? (['after-persist'] as const) : (['before-persist', 'after-persist'] as const)).map((when) => ({
    run,
    when,
  })),
);

describe('every transition of a pipelined run failing on the memory store', () => {
  it.each(FAULTED)(
    '$run.name: each one failed $when ends as the run without a fault',
    async ({ run, when }) => {
      const clean = await pipelined(run);
      for (let n = 1; n <= clean.transitions; n++) {
        const faulted = await pipelined(run, { n, when });
        const where = `transition ${n} of ${clean.transitions} failing ${when}`;
        const [cleanEnd, faultedEnd] = [clean, faulted].map((x) => x.rows.map((row) => ended(row, run)));
        expect(faultedEnd, where).toEqual(cleanEnd);
        if (!run.feesMayDiffer) expect(faulted.accepted, where).toEqual(clean.accepted);
        // A save refused after signing signs the same bytes again on the next pass, never sent twice.
        expect(faulted.signatures, where).toBeLessThanOrEqual(
          clean.signatures + (when === 'before-persist' ? 1 : 0),
        );
      }
    },
  );
});
