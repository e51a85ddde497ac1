/**
 * The anchorer's state machine (sealed -> submitted -> anchored -> final) through injected failures,
 * driven step by step with advanceBatches against a real Hardhat network. The lesson from Sunlight:
 * "failed and not saved" (nothing reached the chain) and "failed but saved" (the chain has it, we
 * never heard) must both end with the batch anchored exactly once under its id.
 *
 * SQLite only: the storage layer adds nothing to these cases; the PostgreSQL path of the same
 * queries is covered by the sealing and end-to-end tests.
 */
import { Transaction } from 'ethers';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  advanceBatches,
  AnchorConflictError,
  LeaseLostError,
  type AnchorerDeps,
} from '../../src/batcher/anchorer.ts';
import { Batcher } from '../../src/batcher/batcher.ts';
import { ANCHORER_LEASE, Lease } from '../../src/batcher/lease.ts';
import { keccak256Hex, utf8, type Hex, type ProofBundleV1 } from '../../src/core/index.ts';
import { buildApp } from '../../src/http/app.ts';
import { sealBatch } from '../../src/service/sealing.ts';
import type { BatchRow } from '../../src/storage/rows.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { registerMany } from '../helpers/records.ts';
import { waitFor } from '../helpers/wait.ts';
import { ChainProbe, FaultyChain, InjectedFailure } from './faulty-chain.ts';

const log = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Rig {
  h: Harness;
  shop: { id: string; apiKey: string };
  faulty: FaultyChain;
  probe: ChainProbe;
  lease: Lease;
  deps: AnchorerDeps;
  counter: number;
}

async function startRig(env: Record<string, string> = {}): Promise<Rig> {
  const h = await startHarness({ startBatcher: false, env });
  const shop = await h.verifiedMerchant('Anchor Shop');
  const faulty = new FaultyChain(h.runtime.services.chain);
  const probe = new ChainProbe(h.runtime.devChain!.url, h.runtime.services.chain.contract);
  const lease = new Lease(h.runtime.storage.leases, 'test-leader', 60_000);
  if (!(await lease.acquire())) throw new Error('test lease not acquired');
  const deps: AnchorerDeps = {
    batches: h.runtime.storage.batches,
    chain: faulty,
    fence: () => lease.fence,
    onLeaseLost: () => lease.abandon(),
    finality: h.runtime.services.finality,
    maxInFlight: 8,
    log,
    now: () => new Date(),
  };
  return { h, shop, faulty, probe, lease, deps, counter: 0 };
}

/** Registers a few records and seals them into the next batch (still 'sealed', nothing on chain). */
async function sealNew(rig: Rig, leaves = 3): Promise<{ batch: BatchRow; recordIds: string[] }> {
  const recordIds = await registerMany(rig.h, rig.shop.apiKey, `batch-${++rig.counter}`, leaves);
  const batch = await sealBatch(rig.h.runtime.services.ctx, 10_000);
  if (!batch) throw new Error('nothing sealed');
  return { batch, recordIds };
}

function batchRow(rig: Rig, id: number): Promise<BatchRow> {
  return rig.h.runtime.storage.db
    .selectFrom('batches')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
}

/** Calls advanceBatches until batch `id` is in `status` (pausing so the chain's reads are fresh). */
async function advanceUntil(
  rig: Rig,
  id: number,
  status: BatchRow['status'],
  maxSteps = 40,
): Promise<BatchRow> {
  for (let step = 0; step < maxSteps; step++) {
    const row = await batchRow(rig, id);
    if (row.status === status) return row;
    await advanceBatches(rig.deps);
    if (step > 3) await sleep(50);
  }
  throw new Error(`batch ${id} not ${status} after ${maxSteps} steps: ${(await batchRow(rig, id)).status}`);
}

/** The batch is anchored exactly once, under its id, with its own root, and final in the database. */
async function expectAnchoredOnce(rig: Rig, batch: BatchRow): Promise<void> {
  const anchors = await rig.probe.anchorsOf(batch.id);
  expect(anchors).toHaveLength(1);
  expect(anchors[0]!.root).toBe(batch.root);
  expect(await rig.probe.rootOf(batch.id)).toBe(batch.root);
  const row = await batchRow(rig, batch.id);
  expect(row).toMatchObject({ status: 'final', chain_root: batch.root, tx_hash: anchors[0]!.txHash });
  expect(row.block_number).toBe(anchors[0]!.blockNumber);
}

describe('anchoring through injected failures (sqlite)', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig();
  });
  afterAll(async () => {
    rig?.probe.close();
    await rig?.h.close();
  });

  it('a batch walks sealed -> submitted -> anchored -> final, one step per pass', async () => {
    const { batch, recordIds } = await sealNew(rig);
    expect(batch).toMatchObject({ id: 1, status: 'sealed', leaf_count: 3, raw_tx: null });
    expect(await rig.probe.nextBatchId()).toBe(1);
    expect(await advanceBatches(rig.deps)).toBe(1);
    const submitted = await batchRow(rig, 1);
    expect(submitted.status).toBe('submitted');
    expect(Transaction.from(submitted.raw_tx!).hash).toBe(submitted.tx_hash);
    await advanceBatches(rig.deps);
    expect((await batchRow(rig, 1)).status).toBe('anchored');
    await advanceUntil(rig, 1, 'final');
    await expectAnchoredOnce(rig, batch);
    expect(await rig.probe.nextBatchId()).toBe(2);
    expect((await rig.h.call('GET', `/v1/verify/${recordIds[0]}`)).json().verdict).toBe('genuine');
  });

  it('(1) broadcast fails before sending: saved as submitted, the same raw tx is rebroadcast, anchored once', async () => {
    const { batch, recordIds } = await sealNew(rig);
    const signed = rig.faulty.calls.signAnchor;
    rig.faulty.faults.broadcastBeforeSend = 1;
    await expect(advanceBatches(rig.deps)).rejects.toThrow(InjectedFailure);

    // Failed and not saved on chain, but saved in the database.
    const saved = await batchRow(rig, batch.id);
    expect(saved.status).toBe('submitted');
    expect(saved.raw_tx).toMatch(/^0x[0-9a-f]+$/);
    expect(Transaction.from(saved.raw_tx!).hash).toBe(saved.tx_hash);
    expect(await rig.probe.nextBatchId()).toBe(batch.id);
    expect(await rig.probe.anchorsOf(batch.id)).toEqual([]);

    const sent = rig.faulty.broadcasts.length;
    await advanceBatches(rig.deps);
    expect(rig.faulty.broadcasts.length).toBe(sent + 1);
    expect(rig.faulty.broadcasts[sent]).toBe(saved.raw_tx);
    expect(await rig.probe.nextBatchId()).toBe(batch.id + 1);

    const final = await advanceUntil(rig, batch.id, 'final');
    expect(final.tx_hash).toBe(saved.tx_hash);
    expect(rig.faulty.calls.signAnchor - signed).toBe(1);
    await expectAnchoredOnce(rig, batch);
    expect((await rig.probe.anchorsOf(batch.id))[0]!.txHash).toBe(saved.tx_hash);
    expect(await rig.probe.nextBatchId()).toBe(batch.id + 1);
    expect((await rig.h.call('GET', `/v1/verify/${recordIds[2]}`)).json().verdict).toBe('genuine');
  });

  it('(1b) the rebroadcast fails too (the RPC is down): the saved transaction is kept, not signed again', async () => {
    const { batch } = await sealNew(rig);
    const signed = rig.faulty.calls.signAnchor;
    rig.faulty.faults.broadcastBeforeSend = 3; // the first send and two rebroadcasts
    for (let pass = 0; pass < 3; pass++) {
      await expect(advanceBatches(rig.deps)).rejects.toThrow(InjectedFailure);
    }
    const saved = await batchRow(rig, batch.id);
    expect(saved.status).toBe('submitted');
    expect(rig.faulty.calls.signAnchor - signed).toBe(1);
    expect(new Set(rig.faulty.broadcasts.slice(-3))).toEqual(new Set([saved.raw_tx]));

    const final = await advanceUntil(rig, batch.id, 'final');
    expect(final.tx_hash).toBe(saved.tx_hash);
    expect(rig.faulty.calls.signAnchor - signed).toBe(1);
    await expectAnchoredOnce(rig, batch);
  });

  it('(2) broadcast sends, then fails: the receipt is found, no second anchor', async () => {
    const { batch } = await sealNew(rig);
    const signed = rig.faulty.calls.signAnchor;
    rig.faulty.faults.broadcastAfterSend = 1;
    await expect(advanceBatches(rig.deps)).rejects.toThrow(InjectedFailure);

    // Failed but saved on chain: the chain has it, the database says submitted.
    const saved = await batchRow(rig, batch.id);
    expect(saved.status).toBe('submitted');
    expect(await rig.probe.nextBatchId()).toBe(batch.id + 1);

    const sent = rig.faulty.broadcasts.length;
    await advanceBatches(rig.deps);
    const anchored = await batchRow(rig, batch.id);
    expect(anchored.status).toBe('anchored');
    expect(anchored.tx_hash).toBe(saved.tx_hash);
    expect(rig.faulty.broadcasts.length).toBe(sent);

    await advanceUntil(rig, batch.id, 'final');
    expect(rig.faulty.calls.signAnchor - signed).toBe(1);
    await expectAnchoredOnce(rig, batch);
    expect(await rig.probe.nextBatchId()).toBe(batch.id + 1);
  });

  it('(3) a crash between signing and saving: the anchor found on chain is adopted, not repeated', async () => {
    const { batch, recordIds } = await sealNew(rig);
    // The crashed process signed and sent, but never saved: the database still says sealed.
    const chain = rig.h.runtime.services.chain;
    const { rawTx, txHash } = await chain.signAnchor(batch.id, batch.root as Hex, batch.leaf_count);
    await chain.broadcast(rawTx);
    expect(await rig.probe.nextBatchId()).toBe(batch.id + 1);
    expect((await batchRow(rig, batch.id)).status).toBe('sealed');

    const signed = rig.faulty.calls.signAnchor;
    const sent = rig.faulty.broadcasts.length;
    await advanceBatches(rig.deps);
    const adopted = await batchRow(rig, batch.id);
    expect(adopted).toMatchObject({ status: 'anchored', tx_hash: txHash, raw_tx: null });
    expect(rig.faulty.calls.signAnchor).toBe(signed);
    expect(rig.faulty.broadcasts.length).toBe(sent);

    await advanceUntil(rig, batch.id, 'final');
    await expectAnchoredOnce(rig, batch);
    expect(await rig.probe.nextBatchId()).toBe(batch.id + 1);
    expect((await rig.h.call('GET', `/v1/verify/${recordIds[1]}`)).json().verdict).toBe('genuine');
  });

  it('(6) the anchor block leaves the canonical chain: back to submitted, final again under the same id', async () => {
    const { batch, recordIds } = await sealNew(rig);
    await advanceBatches(rig.deps);
    await advanceBatches(rig.deps);
    const anchored = await batchRow(rig, batch.id);
    expect(anchored.status).toBe('anchored');
    expect(anchored.block_hash).toMatch(/^0x[0-9a-f]{64}$/);

    rig.faulty.faults.blockHashLies = 1;
    expect(await advanceBatches(rig.deps)).toBe(1);
    const reverted = await batchRow(rig, batch.id);
    expect(reverted).toMatchObject({
      status: 'submitted',
      block_number: null,
      block_hash: null,
      anchored_at: null,
      tx_hash: anchored.tx_hash,
    });
    // While back in submitted, the record is not final.
    expect((await rig.h.call('GET', `/v1/verify/${recordIds[0]}`)).json().verdict).toBe('pending');

    const final = await advanceUntil(rig, batch.id, 'final');
    expect(final.id).toBe(batch.id);
    expect(final.block_hash).toBe(anchored.block_hash);
    await expectAnchoredOnce(rig, batch);
    expect(await rig.probe.nextBatchId()).toBe(batch.id + 1);
    expect((await rig.h.call('GET', `/v1/verify/${recordIds[0]}`)).json().verdict).toBe('genuine');
  });

  it('(7) another holder takes the lease: the save fails with LeaseLostError and nothing changes', async () => {
    const { batch } = await sealNew(rig);
    const db = rig.h.runtime.storage.db;
    const before = await db
      .selectFrom('leases')
      .selectAll()
      .where('name', '=', ANCHORER_LEASE)
      .executeTakeFirstOrThrow();
    expect(before.holder).toBe('test-leader');
    // Its clock is an hour ahead, so our lease looks expired to it.
    const usurper = new Lease(rig.h.runtime.storage.leases, 'usurper', 60_000, () => Date.now() + 3_600_000);
    expect(await usurper.acquire()).toBe(true);
    const taken = await db
      .selectFrom('leases')
      .selectAll()
      .where('name', '=', ANCHORER_LEASE)
      .executeTakeFirstOrThrow();
    expect(taken.holder).toBe('usurper');
    expect(Number(taken.token)).toBeGreaterThan(Number(before.token));
    expect(rig.lease.token).toBe(Number(before.token)); // we have not noticed yet

    const sent = rig.faulty.broadcasts.length;
    await expect(advanceBatches(rig.deps)).rejects.toThrow(LeaseLostError);
    expect(await batchRow(rig, batch.id)).toEqual(batch);
    expect(rig.lease.token).toBeNull();
    expect(rig.faulty.broadcasts.length).toBe(sent);
    expect(await rig.probe.nextBatchId()).toBe(batch.id);
    expect(await rig.lease.acquire()).toBe(false);
    await expect(advanceBatches(rig.deps)).rejects.toThrow(LeaseLostError);
    expect(await batchRow(rig, batch.id)).toEqual(batch);

    // Handed back, the next pass anchors it once.
    await usurper.release();
    expect(await rig.lease.acquire()).toBe(true);
    expect(rig.lease.token).toBeGreaterThan(Number(taken.token));
    await advanceUntil(rig, batch.id, 'final');
    await expectAnchoredOnce(rig, batch);
  });

  it('(5) transient RPC failures: the loop backs off and recovers while POST /v1/records keeps answering 201', async () => {
    // The loop takes over from the test's lease.
    await rig.lease.release();
    const loopLease = new Lease(rig.h.runtime.storage.leases, 'loop-leader', 60_000);
    const batcher = new Batcher({
      ctx: rig.h.runtime.services.ctx,
      chain: rig.faulty,
      lease: loopLease,
      confirmations: 1,
      maxLeaves: 10_000,
      maxAgeMs: 0,
      tickMs: 10,
      log,
    });
    const app = await buildApp({ ...rig.h.runtime.services, batcher }, { logger: log });
    await app.ready();
    try {
      const firstId = await rig.probe.nextBatchId();
      const callsBefore = rig.faulty.calls.nextBatchId;
      rig.faulty.faults.nextBatchId = 4;
      rig.faulty.faults.rootOf = 1;
      const statuses: number[] = [];
      const recordIds: string[] = [];
      let maxFailures = 0;
      let sawError: string | null = null;
      batcher.start();
      for (let i = 0; rig.faulty.faults.nextBatchId + rig.faulty.faults.rootOf > 0; i++) {
        if (i > 500) throw new Error('faults never consumed');
        const res = await app.inject({
          method: 'POST',
          url: '/v1/records',
          headers: { authorization: `Bearer ${rig.shop.apiKey}` },
          payload: {
            records: [
              { externalId: `outage-${i}`, kind: 'card', sku: 'c', productName: 'Card', serial: `${i}` },
            ],
          },
        });
        statuses.push(res.statusCode);
        if (res.statusCode === 201) recordIds.push(res.json().records[0].id);
        maxFailures = Math.max(maxFailures, batcher.status.consecutiveFailures);
        const health = (await app.inject({ method: 'GET', url: '/healthz' })).json();
        sawError ??= health.lastBatcherError;
        await sleep(10);
      }
      expect(statuses.every((s) => s === 201)).toBe(true);
      expect(maxFailures).toBeGreaterThanOrEqual(2);
      expect(sawError).toMatch(/injected/);

      // Exponential backoff: the waits between the failing nextBatchId calls grow.
      const times = rig.faulty.nextBatchIdTimes.slice(callsBefore, callsBefore + 4);
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      expect(gaps).toHaveLength(3);
      // Timers only make the waits longer, never shorter: 10 ms * 2^n after the nth failure, even
      // though a record arrived (and asked for a tick) every ~10 ms all along.
      expect(gaps[0]!).toBeGreaterThanOrEqual(18);
      expect(gaps[1]!).toBeGreaterThanOrEqual(38);
      expect(gaps[2]!).toBeGreaterThanOrEqual(78);

      await waitFor('every batch final and the loop healthy', async () => {
        const open = await rig.h.runtime.storage.db
          .selectFrom('batches')
          .select('id')
          .where('status', '!=', 'final')
          .execute();
        const pending = await rig.h.runtime.storage.db
          .selectFrom('events')
          .select('record_id')
          .where('batch_id', 'is', null)
          .execute();
        return open.length === 0 && pending.length === 0 && batcher.status.consecutiveFailures === 0;
      });
      expect(batcher.status).toMatchObject({
        leader: true,
        halted: null,
        lastError: null,
        consecutiveFailures: 0,
      });
      expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toMatchObject({
        anchoringHalted: null,
        lastBatcherError: null,
      });
      // Every batch, old and new, is on chain exactly once with its own root.
      const rows = await rig.h.runtime.storage.db.selectFrom('batches').selectAll().orderBy('id').execute();
      expect(rows.length).toBeGreaterThan(firstId);
      expect(await rig.probe.nextBatchId()).toBe(rows.length + 1);
      const anchors = await rig.probe.allAnchors();
      for (const row of rows) {
        expect(anchors.get(row.id), `batch ${row.id}`).toEqual([row.root]);
        expect(row.chain_root).toBe(row.root);
      }
      for (const id of [recordIds[0]!, recordIds.at(-1)!]) {
        expect((await app.inject({ method: 'GET', url: `/v1/verify/${id}` })).json().verdict).toBe('genuine');
      }
    } finally {
      await batcher.stop();
      await app.close();
    }
  });
});

describe('confirmations and a conflicting chain (sqlite, CONFIRMATIONS=3)', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({ CONFIRMATIONS: '3' });
  });
  afterAll(async () => {
    rig?.probe.close();
    await rig?.h.close();
  });

  it('(8) a batch stays anchored until two more blocks are mined, then becomes final', async () => {
    expect(rig.deps.finality).toEqual({ kind: 'depth', blocks: 3 });
    const { batch, recordIds } = await sealNew(rig, 2);
    await advanceBatches(rig.deps);
    await advanceBatches(rig.deps);
    const anchored = await batchRow(rig, batch.id);
    expect(anchored.status).toBe('anchored');
    expect(await rig.probe.head()).toBe(anchored.block_number);

    const verifyBundle = async (status: 'anchored' | 'final') => {
      const bundle = (await rig.h.call('GET', `/v1/records/${recordIds[0]}/proofs`)).json()
        .bundles[0] as ProofBundleV1;
      expect(bundle.anchor.status).toBe(status);
      return (await rig.h.call('POST', '/v1/verify', { body: bundle })).json();
    };
    for (let i = 0; i < 3; i++) await advanceBatches(rig.deps);
    expect((await batchRow(rig, batch.id)).status).toBe('anchored');
    expect(await verifyBundle('anchored')).toMatchObject({ valid: false, failure: 'not_final' });
    expect((await rig.h.call('GET', `/v1/verify/${recordIds[0]}`)).json()).toMatchObject({
      verdict: 'pending',
      issuance: { status: 'anchored', batchId: batch.id },
    });

    await rig.probe.mine(1);
    for (let i = 0; i < 3; i++) {
      await sleep(100); // past ethers' response cache
      await advanceBatches(rig.deps);
    }
    expect((await batchRow(rig, batch.id)).status).toBe('anchored');

    await rig.probe.mine(1);
    await advanceUntil(rig, batch.id, 'final');
    await expectAnchoredOnce(rig, batch);
    expect(await verifyBundle('final')).toMatchObject({ valid: true, confirmations: 3 });
    expect((await rig.h.call('GET', `/v1/verify/${recordIds[0]}`)).json().verdict).toBe('genuine');
  });

  it('(4) the chain holds another root for the id: AnchorConflictError, and the loop halts and says so', async () => {
    const { batch, recordIds } = await sealNew(rig);
    const otherRoot = keccak256Hex(utf8('someone else anchored this id'));
    await rig.probe.anchorOutOfBand(batch.id, otherRoot, 7);
    const signed = rig.faulty.calls.signAnchor;

    await expect(advanceBatches(rig.deps)).rejects.toThrow(AnchorConflictError);
    expect(await batchRow(rig, batch.id)).toEqual(batch);
    expect(rig.faulty.calls.signAnchor).toBe(signed);
    const anchors = await rig.probe.anchorsOf(batch.id);
    expect(anchors.map((a) => a.root)).toEqual([otherRoot]);

    await rig.lease.release();
    const batcher = new Batcher({
      ctx: rig.h.runtime.services.ctx,
      chain: rig.faulty,
      lease: new Lease(rig.h.runtime.storage.leases, 'loop-leader', 60_000),
      confirmations: 3,
      maxLeaves: 10_000,
      maxAgeMs: 0,
      tickMs: 20,
      log,
    });
    const app = await buildApp({ ...rig.h.runtime.services, batcher }, { logger: log });
    await app.ready();
    try {
      expect((await app.inject({ method: 'GET', url: '/healthz' })).json().anchoringHalted).toBeNull();
      batcher.start();
      await waitFor('the loop to halt', async () => batcher.status.halted);
      const health = (await app.inject({ method: 'GET', url: '/healthz' })).json();
      expect(health).toMatchObject({ status: 'ok', leader: true });
      expect(health.anchoringHalted).toContain(`batch ${batch.id}`);
      expect(health.anchoringHalted).toContain(otherRoot);

      // Halted means halted: new records are accepted but nothing more is sealed or sent.
      const res = await app.inject({
        method: 'POST',
        url: '/v1/records',
        headers: { authorization: `Bearer ${rig.shop.apiKey}` },
        payload: {
          records: [{ externalId: 'after-halt', kind: 'card', sku: 'c', productName: 'Card', serial: '1' }],
        },
      });
      expect(res.statusCode).toBe(201);
      await sleep(300);
      expect(await batchRow(rig, batch.id)).toEqual(batch);
      const batches = await rig.h.runtime.storage.db.selectFrom('batches').select('id').execute();
      expect(batches.map((b) => b.id)).toEqual([1, batch.id]);
      expect(await rig.probe.nextBatchId()).toBe(batch.id + 1);
      expect((await rig.probe.anchorsOf(batch.id)).map((a) => a.root)).toEqual([otherRoot]);
      expect((await app.inject({ method: 'GET', url: `/v1/verify/${recordIds[0]}` })).json().verdict).toBe(
        'pending',
      );
    } finally {
      await batcher.stop();
      await app.close();
    }
  });
});
