/**
 * Anchoring on two node implementations, Hardhat and Foundry's anvil, each mining a block a second on
 * a clock as a real network does (not the automine of the other fault tests), with several anchor
 * transactions in flight at once. A running instance (the batcher loop) against a node in a process
 * of its own, driven through the node's own RPC: a healthy chain (no failed step, nothing sent twice,
 * how long seal to genuine takes), a dropped transaction, reorgs of one and of several anchors
 * (evm_snapshot/evm_revert on both, anvil_reorg on anvil), a nonce taken from the lowest of several
 * in flight, a base fee that outgrows them, and CONFIRMATIONS=finalized against the node's own
 * finalized block (anvil's trails its head by 2 x --slots-in-an-epoch; Hardhat's is its head). Each
 * case ends with every batch anchored once under its id, in order, and no verdict saying genuine
 * while its batch is not final.
 */
import { Transaction, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_DEPLOYER_KEY } from '../../src/chain/dev-chain.ts';
import type { BatchRow } from '../../src/storage/rows.ts';
import { startAnvilNode, type AnvilNode } from '../helpers/anvil-node.ts';
import type { ChainNode, NodeKind } from '../helpers/chain-node.ts';
import { startHardhatNode } from '../helpers/hardhat-node.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { recordBody } from '../helpers/records.ts';
import { waitFor } from '../helpers/wait.ts';
import { checkAnchoredExactlyOnce, clusterEnv, newAcknowledged, noteRegistration } from '../scale/cluster.ts';
import { ChainProbe } from './faulty-chain.ts';

/** anvil's safe block trails its head by this many blocks, its finalized block by twice as many. */
const SLOTS_IN_AN_EPOCH = 2;
const BLOCK_MS = 1000;

async function startNode(kind: NodeKind): Promise<ChainNode> {
  return kind === 'anvil'
    ? startAnvilNode({ blockTimeS: BLOCK_MS / 1000, slotsInAnEpoch: SLOTS_IN_AN_EPOCH })
    : startHardhatNode({ blockTimeMs: BLOCK_MS });
}

interface Rig {
  node: ChainNode;
  h: Harness;
  apiKey: string;
  contract: string;
  probe: ChainProbe;
  ack: ReturnType<typeof newAcknowledged>;
  counter: number;
  /** Samplers still running, stopped with the rig. */
  samplers: Array<{ done(): Promise<unknown> }>;
}

/** A proofmark instance on `node` with a fresh registry; `env` on top of a real chain's settings. */
async function startRig(node: ChainNode, env: Record<string, string>): Promise<Rig> {
  const contract = await node.deploy();
  const h = await startHarness({
    env: clusterEnv(node.url, contract, { CHAIN_POLL_MS: '200', LEADER_LEASE_MS: '60000', ...env }),
  });
  const { apiKey } = await h.verifiedMerchant('Pipelined Shop');
  const probe = new ChainProbe(node.url, contract);
  return { node, h, apiKey, contract, probe, ack: newAcknowledged(), counter: 0, samplers: [] };
}

/**
 * Stops the rig and leaves the node as the next case expects it: mining on its clock, with nothing
 * of the anchorer's account left in its pool (a case that failed half-way may leave some).
 */
async function stopRig(rig: Rig | undefined): Promise<void> {
  if (!rig) return;
  for (const sampler of rig.samplers) await sampler.done().catch(() => {});
  await rig.h.close();
  rig.probe.close();
  await rig.node.mineEvery(BLOCK_MS);
  const anchorer = new Wallet(DEV_DEPLOYER_KEY).address;
  await waitFor('the anchorer account to have nothing left in the pool', async () => {
    const [pending, latest] = await Promise.all([
      rig.node.provider.getTransactionCount(anchorer, 'pending'),
      rig.node.provider.getTransactionCount(anchorer, 'latest'),
    ]);
    return pending === latest;
  });
}

/** Registers `count` records and asks for a seal (BATCH_MAX_LEAVES cuts them into batches). */
async function sealNew(rig: Rig, count: number): Promise<{ batchIds: number[]; recordIds: string[] }> {
  const prefix = `pipelined-${++rig.counter}`;
  const res = await rig.h.call('POST', '/v1/records', {
    token: rig.apiKey,
    body: { records: Array.from({ length: count }, (_, i) => recordBody(`${prefix}-${i}`)) },
  });
  expect(res.statusCode, res.body).toBe(201);
  noteRegistration(rig.ack, res);
  const recordIds = (res.json().records as Array<{ id: string }>).map((r) => r.id);
  const sealed = await rig.h.admin('POST', '/v1/admin/batches/seal');
  expect(sealed.statusCode).toBe(200);
  // Each rig has a database of its own and seals once: its batches are these records'.
  const rows = await rig.h.runtime.storage.db.selectFrom('batches').select('id').orderBy('id').execute();
  return { batchIds: rows.map((r) => r.id), recordIds };
}

function batchRows(rig: Rig, ids: number[]): Promise<BatchRow[]> {
  return rig.h.runtime.storage.db
    .selectFrom('batches')
    .selectAll()
    .where('id', 'in', ids)
    .orderBy('id')
    .execute();
}

function untilBatches(rig: Rig, ids: number[], test: (b: BatchRow) => boolean, what: string) {
  return waitFor(
    `batches ${ids.join(', ')} ${what}`,
    async () => {
      const rows = await batchRows(rig, ids);
      return rows.length === ids.length && rows.every(test) ? rows : null;
    },
    60_000,
    50,
  );
}

async function verdictOf(rig: Rig, recordId: string): Promise<string> {
  return (await rig.h.call('GET', `/v1/verify/${recordId}`)).json().verdict;
}

/**
 * Samples a record's verdict, then its batch and the chain, until stopped: every 'genuine' must have
 * been said while the batch was final on the canonical chain. The chain is read after the verdict,
 * so a genuine verdict said too early is seen unless the chain caught up within those milliseconds.
 */
function sampleVerdicts(rig: Rig, recordId: string) {
  const sampler = startSampler(rig, recordId);
  rig.samplers.push(sampler);
  return sampler;
}

function startSampler(rig: Rig, recordId: string) {
  const seen: Array<{
    at: number;
    verdict: string;
    status: string;
    canonical: boolean;
    block: number | null;
    finalized: number | null;
    head: number;
  }> = [];
  let stop = false;
  const running = (async () => {
    while (!stop) {
      const verdict = await verdictOf(rig, recordId);
      const at = Date.now();
      const row = await batchOf(rig, recordId);
      const head = await rig.node.provider.getBlockNumber();
      const finalized = (await rig.node.provider.getBlock('finalized'))?.number ?? null;
      const canonical =
        row!.block_number !== null && (await rig.probe.blockHashOf(row!.block_number)) === row!.block_hash;
      seen.push({ at, verdict, status: row!.status, canonical, block: row!.block_number, finalized, head });
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    /** Waits until a sample has said `verdict`. */
    async until(verdict: string) {
      await waitFor(`a sample saying ${verdict}`, () => seen.some((s) => s.verdict === verdict), 60_000);
    },
    async done() {
      stop = true;
      await running;
      return seen;
    },
  };
}

/** The batch holding a record's issuance event (the one its verdict rests on). */
async function batchOf(rig: Rig, recordId: string): Promise<BatchRow> {
  const event = await rig.h.runtime.storage.db
    .selectFrom('events')
    .select('batch_id')
    .where('record_id', '=', recordId)
    .where('seq', '=', 0)
    .executeTakeFirstOrThrow();
  const [row] = await batchRows(rig, [event.batch_id!]);
  return row!;
}

/** Every batch final, anchored exactly once with its root, ids in order; every record genuine. */
async function expectAllAnchoredOnce(rig: Rig): Promise<void> {
  await waitFor(
    'every batch final',
    async () => {
      const open = await rig.h.runtime.storage.db
        .selectFrom('batches')
        .select('id')
        .where('status', '!=', 'final')
        .execute();
      return open.length === 0;
    },
    60_000,
    50,
  );
  await checkAnchoredExactlyOnce(rig.h.runtime.storage.db, rig.node.url, rig.contract, rig.ack);
  for (const id of [...rig.ack.records.values()].slice(-3)) expect(await verdictOf(rig, id)).toBe('genuine');
}

/**
 * Blocks held back, `records` sealed into batches, and every batch's anchor sent and in the node's
 * pool: several anchors in flight, none mined. Returns the batches as submitted, in id order.
 */
async function inFlightUnmined(rig: Rig, node: ChainNode, records: number): Promise<BatchRow[]> {
  await node.mineEvery(0);
  const { batchIds } = await sealNew(rig, records);
  const sent = await untilBatches(rig, batchIds, (b) => b.status === 'submitted', 'submitted');
  for (const row of sent) {
    await waitFor(
      'the anchor in the pool',
      async () => (await node.provider.getTransaction(row.tx_hash!)) !== null,
    );
  }
  return sent;
}

/** The anchor transactions' nonces, in batch order, read from the chain (an adopted batch has no raw_tx). */
async function noncesOf(node: ChainNode, rows: BatchRow[]): Promise<number[]> {
  return Promise.all(rows.map(async (r) => (await node.provider.getTransaction(r.tx_hash!))!.nonce));
}

/** The suite on one node kind; pipelined.hardhat.test.ts and pipelined.anvil.test.ts run it, in parallel workers. */
export function pipelinedSuite(kind: NodeKind): void {
  describe(`${kind} mining a block a second`, () => {
    let node: ChainNode;
    beforeAll(async () => {
      node = await startNode(kind);
    });
    afterAll(async () => {
      await node?.stop();
    });

    it('a healthy chain: several anchors in flight at consecutive nonces, none sent twice, no failed step', async ({
      annotate,
    }) => {
      const rig = await startRig(node, { CONFIRMATIONS: '2', BATCH_MAX_LEAVES: '5', MAX_IN_FLIGHT: '8' });
      try {
        const batcher = rig.h.runtime.services.batcher;
        const anchorer = new Wallet(DEV_DEPLOYER_KEY).address;
        const noncesBefore = await node.provider.getTransactionCount(anchorer, 'latest');
        let maxInFlight = 0;
        let maxFailures = 0;
        const watching = setInterval(() => {
          maxInFlight = Math.max(maxInFlight, batcher.status.anchorsInFlight);
          maxFailures = Math.max(maxFailures, batcher.status.consecutiveFailures);
        }, 5);
        const started = Date.now();
        // Blocks are held back while the anchors go out, so that several are in flight at once however
        // fast or loaded the machine is; then the node mines on its clock again.
        await node.mineEvery(0);
        const { batchIds } = await sealNew(rig, 30);
        expect(batchIds).toHaveLength(6);
        await waitFor('several anchors in flight', () => batcher.status.anchorsInFlight > 1, 30_000, 10);
        await node.mineEvery(BLOCK_MS);
        await expectAllAnchoredOnce(rig);
        clearInterval(watching);
        const rows = await batchRows(rig, batchIds);
        // One transaction per batch, at consecutive nonces, in id order: nothing signed twice, none reverted.
        expect(await noncesOf(node, rows)).toEqual(rows.map((_, i) => noncesBefore + i));
        expect(await node.provider.getTransactionCount(anchorer, 'latest')).toBe(noncesBefore + rows.length);
        expect(maxInFlight).toBeGreaterThan(1);
        expect(maxFailures).toBe(0);
        expect(batcher.status).toMatchObject({ consecutiveFailures: 0, lastError: null });
        expect(batcher.status.rpcErrors).toEqual({});
        // The gas figure is the anchors' own receipts, each counted once (how much each anchor costs
        // depends on the node and on the block it shares, so no fixed figure is asserted).
        const receipts = await Promise.all(rows.map((r) => node.provider.getTransactionReceipt(r.tx_hash!)));
        expect(batcher.status.gasUsed).toBe(receipts.reduce((gas, r) => gas + r!.gasUsed, 0n));
        const blocks = new Set(rows.map((r) => r.block_number)).size;
        await annotate(
          `${kind}: 6 batches final in ${((Date.now() - started) / 1000).toFixed(1)} s, ${blocks} block(s), up to ${maxInFlight} in flight`,
        );
      } finally {
        await stopRig(rig);
      }
    });

    it('1 s blocks, 3 confirmations: a sealed batch is genuine within 3 blocks of the confirmations being reached', async ({
      annotate,
    }) => {
      // The default real-chain poll (CHAIN_POLL_MS 2000), as an operator would run it.
      const rig = await startRig(node, { CONFIRMATIONS: '3', CHAIN_POLL_MS: '2000' });
      try {
        const { batchIds, recordIds } = await sealNew(rig, 100);
        const sealedAt = Date.now();
        const head = await waitFor(
          'the record genuine',
          async () =>
            (await verdictOf(rig, recordIds[0]!)) === 'genuine' ? rig.node.provider.getBlockNumber() : null,
          30_000,
          25,
        );
        const seconds = (Date.now() - sealedAt) / 1000;
        const [row] = await batchRows(rig, batchIds);
        const confirmedAt = row!.block_number! + 2; // the anchoring block and two more
        await annotate(
          `${kind}: seal to genuine ${seconds.toFixed(1)} s; anchored in block ${row!.block_number}, confirmations reached at ${confirmedAt}, genuine at head ${head}`,
        );
        expect(head - confirmedAt).toBeLessThanOrEqual(3);
        expect(seconds).toBeLessThan(15);
        expect(rig.h.runtime.services.batcher.status.rpcErrors).toEqual({});
      } finally {
        await stopRig(rig);
      }
    });

    it('a transaction dropped from the pool, with another in flight above it: sent again, the same transaction', async () => {
      const rig = await startRig(node, { CONFIRMATIONS: '1', BATCH_MAX_LEAVES: '3' });
      try {
        const sent = await inFlightUnmined(rig, node, 6);
        const batchIds = sent.map((r) => r.id);
        await node.dropTransaction(sent[0]!.tx_hash!);
        await waitFor(
          'the dropped anchor sent again',
          async () => (await node.provider.getTransaction(sent[0]!.tx_hash!)) !== null,
        );
        await node.mineEvery(BLOCK_MS);
        await expectAllAnchoredOnce(rig);
        expect((await batchRows(rig, batchIds)).map((r) => r.tx_hash)).toEqual(sent.map((r) => r.tx_hash));
      } finally {
        await stopRig(rig);
      }
    });

    it('a reorg takes an anchor off the chain (evm_snapshot/evm_revert): anchored again, never genuine before final', async () => {
      const rig = await startRig(node, { CONFIRMATIONS: '3' });
      try {
        const snapshot = await node.snapshot();
        const { batchIds, recordIds } = await sealNew(rig, 3);
        const sampler = sampleVerdicts(rig, recordIds[0]!);
        const [first] = await untilBatches(rig, batchIds, (b) => b.status === 'anchored', 'anchored');
        await node.revert(snapshot);
        const [again] = await untilBatches(
          rig,
          batchIds,
          (b) => b.status === 'final' && b.block_hash !== first!.block_hash,
          'final in another block',
        );
        const seen = await sampler.done();
        expect(again!.tx_hash).toBe(first!.tx_hash);
        for (const s of seen)
          if (s.verdict === 'genuine') expect(s).toMatchObject({ status: 'final', canonical: true });
        expect(seen.some((s) => s.verdict === 'pending' && s.status === 'submitted')).toBe(true);
        await expectAllAnchoredOnce(rig);
      } finally {
        await stopRig(rig);
      }
    });

    it(`a reorg takes several anchors off the chain at once (${kind === 'anvil' ? 'anvil_reorg' : 'evm_revert'}): each anchored again once, in order`, async () => {
      const rig = await startRig(node, { CONFIRMATIONS: '20', BATCH_MAX_LEAVES: '2' });
      try {
        const snapshot = await node.snapshot();
        const { batchIds, recordIds } = await sealNew(rig, 6);
        const sampler = sampleVerdicts(rig, recordIds[0]!);
        const anchored = await untilBatches(rig, batchIds, (b) => b.status === 'anchored', 'anchored');
        if (node.kind === 'anvil') {
          const head = await node.provider.getBlockNumber();
          await (node as AnvilNode).reorg(head - anchored[0]!.block_number! + 1);
        } else {
          await node.revert(snapshot);
        }
        await untilBatches(
          rig,
          batchIds,
          (b) => b.status === 'anchored' && !anchored.some((a) => a.block_hash === b.block_hash),
          'anchored again in new blocks',
        );
        expect((await batchRows(rig, batchIds)).map((r) => r.tx_hash)).toEqual(
          anchored.map((r) => r.tx_hash),
        );
        await node.mine(20);
        await expectAllAnchoredOnce(rig);
        const seen = await sampler.done();
        for (const s of seen)
          if (s.verdict === 'genuine') expect(s).toMatchObject({ status: 'final', canonical: true });
      } finally {
        await stopRig(rig);
      }
    });

    it('another holder of the key takes the nonce of the lowest of three in flight: the two above revert, all three are signed again in order, each anchored once', async () => {
      const rig = await startRig(node, { CONFIRMATIONS: '1', BATCH_MAX_LEAVES: '2' });
      try {
        const sent = await inFlightUnmined(rig, node, 6);
        const batchIds = sent.map((r) => r.id);
        const lowest = Transaction.from(sent[0]!.raw_tx!);
        const other = new Wallet(DEV_DEPLOYER_KEY, node.provider);
        await other.sendTransaction({
          to: other.address,
          value: 0n,
          nonce: lowest.nonce,
          maxFeePerGas: lowest.maxFeePerGas! * 2n,
          maxPriorityFeePerGas: lowest.maxPriorityFeePerGas! * 2n,
        });
        await node.mine(1);
        // The two above ran behind theirs, before the lowest batch was anchored: BatchOutOfOrder.
        for (const row of sent.slice(1)) {
          const receipt = await waitFor('a stale anchor mined', () =>
            node.provider.getTransactionReceipt(row.tx_hash!),
          );
          expect(receipt.status).toBe(0);
        }
        await node.mineEvery(BLOCK_MS);
        await expectAllAnchoredOnce(rig);
        const rows = await batchRows(rig, batchIds);
        for (const [i, row] of rows.entries()) expect(row.tx_hash).not.toBe(sent[i]!.tx_hash);
        const nonces = await noncesOf(node, rows);
        expect(nonces).toEqual([...nonces].sort((a, b) => a - b));
        expect(nonces[0]).toBeGreaterThan(Transaction.from(sent[2]!.raw_tx!).nonce);
      } finally {
        await stopRig(rig);
      }
    });

    it('the base fee outgrows what two anchors in flight offer: each replaced at its own nonce, anchored once', async () => {
      const rig = await startRig(node, { CONFIRMATIONS: '1', BATCH_MAX_LEAVES: '3' });
      try {
        const stuck = await inFlightUnmined(rig, node, 6);
        const batchIds = stuck.map((r) => r.id);
        const maxFee = Transaction.from(stuck[0]!.raw_tx!).maxFeePerGas!;
        await node.setNextBaseFee(maxFee * 4n);
        await node.mine(1);
        const replaced = await untilBatches(
          rig,
          batchIds,
          (b) => b.status === 'submitted' && !stuck.some((s) => s.tx_hash === b.tx_hash),
          'replaced',
        );
        const signedAt = (rows: BatchRow[]) => rows.map((r) => Transaction.from(r.raw_tx!).nonce);
        expect(signedAt(replaced)).toEqual(signedAt(stuck));
        for (const row of replaced) {
          await waitFor(
            'the replacement in the pool',
            async () => (await node.provider.getTransaction(row.tx_hash!)) !== null,
          );
        }
        await node.mineEvery(BLOCK_MS);
        await expectAllAnchoredOnce(rig);
        expect((await batchRows(rig, batchIds)).map((r) => r.tx_hash)).toEqual(
          replaced.map((r) => r.tx_hash),
        );
      } finally {
        await stopRig(rig);
      }
    });

    it("CONFIRMATIONS=finalized: never genuine before the anchor block is at or below the node's finalized block, and genuine within a poll after", async ({
      annotate,
    }) => {
      const POLL_MS = 500;
      const rig = await startRig(node, { CONFIRMATIONS: 'finalized', CHAIN_POLL_MS: String(POLL_MS) });
      try {
        const { recordIds } = await sealNew(rig, 3);
        const sampler = sampleVerdicts(rig, recordIds[0]!);
        await sampler.until('genuine');
        const seen = await sampler.done();
        const block = (await batchOf(rig, recordIds[0]!)).block_number!;
        for (const s of seen.filter((x) => x.verdict === 'genuine')) {
          expect(s.finalized).not.toBeNull();
          expect(s.finalized!).toBeGreaterThanOrEqual(s.block!);
        }
        const finalizedSeen = seen.find(
          (s) => s.finalized !== null && s.block !== null && s.finalized >= s.block,
        );
        const genuineSeen = seen.find((s) => s.verdict === 'genuine');
        expect(finalizedSeen).toBeDefined();
        expect(genuineSeen).toBeDefined();
        const lag = genuineSeen!.at - finalizedSeen!.at;
        await annotate(
          `${kind}: anchored in block ${block}; the finalized block reached it at head ${finalizedSeen!.head}, genuine ${lag} ms later (CHAIN_POLL_MS ${POLL_MS}); ${seen.length} samples`,
        );
        expect(lag).toBeLessThanOrEqual(POLL_MS + 1500);
        if (kind === 'anvil') {
          // anvil's finalized block trails its head: some samples saw the batch anchored and not yet final.
          expect(seen.some((s) => s.status === 'anchored' && s.verdict === 'pending')).toBe(true);
        }
      } finally {
        await stopRig(rig);
      }
    });

    it('the finalized block stands still longer than FINALITY_STALL_MS (the node stops mining): /healthz says so in words until it moves', async () => {
      const rig = await startRig(node, { CONFIRMATIONS: 'finalized', FINALITY_STALL_MS: '2000' });
      try {
        const health = async () => (await rig.h.call('GET', '/healthz')).json();
        await waitFor(
          'a first reading of the finalized block',
          () => rig.h.runtime.services.batcher.status.finalizedHeadAgeSeconds !== null,
        );
        expect((await health()).finalityStalled).toBeUndefined();
        await node.mineEvery(0);
        const said = await waitFor(
          '/healthz to say the finalized block stalled',
          async () => (await health()).finalityStalled,
          20_000,
        );
        expect(said).toMatch(
          /^the node's finalized block has not advanced for \d+ s \(still block \d+; FINALITY_STALL_MS is 2 s\): no batch becomes final until it does$/,
        );
        expect(rig.h.runtime.services.batcher.status.finalizedHeadAgeSeconds).toBeGreaterThan(2);
        await node.mineEvery(BLOCK_MS);
        await waitFor(
          '/healthz to stop saying it',
          async () => (await health()).finalityStalled === undefined,
          20_000,
        );
      } finally {
        await stopRig(rig);
      }
    });
  });
}
