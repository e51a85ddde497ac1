/**
 * The chain misbehaving under a running instance (the batcher loop, not single steps), on a real
 * Hardhat network driven through its own RPC: reorgs made with evm_snapshot/evm_revert, a
 * transaction dropped from the pool (hardhat_dropTransaction), and another holder of the anchorer's
 * key taking its nonce or leaving a gap in front of it. Each case ends with the batch anchored once
 * under its id, and no verdict says genuine while the batch is not final on the canonical chain.
 */
import { JsonRpcProvider, Transaction, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_DEPLOYER_KEY } from '../../src/chain/dev-chain.ts';
import type { BatchRow } from '../../src/storage/rows.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { registerMany } from '../helpers/records.ts';
import { waitFor } from '../helpers/wait.ts';
import { ChainProbe } from './faulty-chain.ts';

interface Rig {
  h: Harness;
  apiKey: string;
  rpc: JsonRpcProvider;
  probe: ChainProbe;
  /** Another holder of the anchorer's key (an operator's script, a second deployment). */
  other: Wallet;
  counter: number;
}

async function startRig(env: Record<string, string>): Promise<Rig> {
  const h = await startHarness({ env });
  const { apiKey } = await h.verifiedMerchant('Chain Faults Shop');
  const url = h.runtime.devChain!.url;
  const rpc = new JsonRpcProvider(url, undefined, { staticNetwork: true, cacheTimeout: -1 });
  const probe = new ChainProbe(url, h.runtime.services.chain.contract);
  return { h, apiKey, rpc, probe, other: new Wallet(DEV_DEPLOYER_KEY, rpc), counter: 0 };
}

async function stopRig(rig: Rig | undefined): Promise<void> {
  await rig?.rpc.send('evm_setAutomine', [true]).catch(() => {});
  rig?.probe.close();
  rig?.rpc.destroy();
  await rig?.h.close();
}

/** Registers records and asks for a seal; returns the new batch's id and the records in it. */
async function sealNew(rig: Rig): Promise<{ batchId: number; recordIds: string[] }> {
  const recordIds = await registerMany(rig.h, rig.apiKey, `faults-${++rig.counter}`, 3);
  const sealed = await rig.h.admin('POST', '/v1/admin/batches/seal');
  expect(sealed.statusCode).toBe(200);
  const batchId = (sealed.json() as { batches: Array<{ id: number }> }).batches[0]!.id;
  return { batchId, recordIds };
}

function batchRow(rig: Rig, id: number): Promise<BatchRow> {
  return rig.h.runtime.storage.db
    .selectFrom('batches')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
}

function untilBatch(rig: Rig, id: number, test: (b: BatchRow) => boolean, what: string): Promise<BatchRow> {
  return waitFor(`batch ${id} ${what}`, async () => {
    const row = await batchRow(rig, id);
    return test(row) ? row : null;
  });
}

async function verdictOf(rig: Rig, recordId: string): Promise<string> {
  return (await rig.h.call('GET', `/v1/verify/${recordId}`)).json().verdict;
}

/**
 * Samples a record's verdict and its batch's status until stopped; every 'genuine' must have been
 * said while the batch was final and its block was on the canonical chain.
 */
function sampleVerdicts(rig: Rig, recordId: string, batchId: number) {
  const seen: Array<{ verdict: string; status: string; canonical: boolean }> = [];
  let stop = false;
  const running = (async () => {
    while (!stop) {
      const verdict = await verdictOf(rig, recordId);
      const row = await batchRow(rig, batchId);
      const canonical =
        row.block_number !== null && (await rig.probe.blockHashOf(row.block_number)) === row.block_hash;
      seen.push({ verdict, status: row.status, canonical });
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    async done() {
      stop = true;
      await running;
      return seen;
    },
  };
}

async function expectAnchoredOnce(rig: Rig, batchId: number): Promise<BatchRow> {
  const row = await batchRow(rig, batchId);
  const anchors = await rig.probe.anchorsOf(batchId);
  expect(anchors).toHaveLength(1);
  expect(anchors[0]).toMatchObject({ root: row.root, txHash: row.tx_hash, blockNumber: row.block_number });
  expect(row).toMatchObject({ status: 'final', chain_root: row.root });
  return row;
}

describe('reorgs, dropped transactions and nonces (sqlite, CONFIRMATIONS=1)', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({ CONFIRMATIONS: '1' });
  });
  afterAll(() => stopRig(rig));

  it('a reorg deeper than CONFIRMATIONS takes a final batch off the chain: pending until it is anchored again', async () => {
    const snapshot = await rig.rpc.send('evm_snapshot', []);
    const { batchId, recordIds } = await sealNew(rig);
    const first = await untilBatch(rig, batchId, (b) => b.status === 'final', 'final');
    expect(await verdictOf(rig, recordIds[0]!)).toBe('genuine');

    // The competing chain: back to before the anchor, no automining, then longer than before.
    await rig.rpc.send('evm_setAutomine', [false]);
    await rig.rpc.send('evm_revert', [snapshot]);
    await rig.rpc.send('hardhat_mine', ['0x3']);
    expect(await rig.probe.rootOf(batchId)).toBe(`0x${'00'.repeat(32)}`);
    const sampler = sampleVerdicts(rig, recordIds[0]!, batchId);

    // Found on the next pass: demoted, the same signed transaction sent again, waiting in the pool.
    const demoted = await untilBatch(rig, batchId, (b) => b.status === 'submitted', 'back to submitted');
    expect(demoted).toMatchObject({ tx_hash: first.tx_hash, chain_root: null, block_hash: null });
    await waitFor('the anchor re-sent', async () => (await rig.rpc.getTransaction(first.tx_hash!)) !== null);
    expect(await verdictOf(rig, recordIds[0]!)).toBe('pending');

    await rig.rpc.send('evm_mine', []);
    await rig.rpc.send('evm_setAutomine', [true]);
    const again = await untilBatch(rig, batchId, (b) => b.status === 'final', 'final again');
    const seen = await sampler.done();
    expect(again.block_hash).not.toBe(first.block_hash);
    await expectAnchoredOnce(rig, batchId);
    expect(await verdictOf(rig, recordIds[0]!)).toBe('genuine');
    // Deeper than CONFIRMATIONS is beyond the promise: until the next pass notices, the old verdict
    // stands (the window is one poll). From the demotion on, never genuine until final again.
    const demotedAt = seen.findIndex((s) => s.status !== 'final');
    expect(demotedAt).toBeGreaterThanOrEqual(0);
    for (const s of seen.slice(demotedAt))
      if (s.verdict === 'genuine') expect(s).toMatchObject({ status: 'final', canonical: true });
    expect(seen.slice(demotedAt).some((s) => s.verdict === 'pending')).toBe(true);
  });

  it('a transaction dropped from the pool is sent again: the same transaction, the same nonce', async () => {
    await rig.rpc.send('evm_setAutomine', [false]);
    const { batchId, recordIds } = await sealNew(rig);
    const submitted = await untilBatch(rig, batchId, (b) => b.status === 'submitted', 'submitted');
    const txHash = submitted.tx_hash!;
    await waitFor('the anchor in the pool', async () => (await rig.rpc.getTransaction(txHash)) !== null);

    expect(await rig.rpc.send('hardhat_dropTransaction', [txHash])).toBe(true);
    await waitFor('the anchor sent again', async () => (await rig.rpc.getTransaction(txHash)) !== null);
    expect(await verdictOf(rig, recordIds[0]!)).toBe('pending');
    await rig.rpc.send('evm_mine', []);
    await rig.rpc.send('evm_setAutomine', [true]);

    await untilBatch(rig, batchId, (b) => b.status === 'final', 'final');
    const row = await expectAnchoredOnce(rig, batchId);
    expect(row.tx_hash).toBe(txHash);
    expect(Transaction.from(row.raw_tx!).nonce).toBe(Transaction.from(submitted.raw_tx!).nonce);
  });

  it("another holder of the key takes the anchor's nonce: signed again at the next nonce, anchored once", async () => {
    await rig.rpc.send('evm_setAutomine', [false]);
    const { batchId } = await sealNew(rig);
    const submitted = await untilBatch(rig, batchId, (b) => b.status === 'submitted', 'submitted');
    const ours = Transaction.from(submitted.raw_tx!);
    await waitFor('the anchor in the pool', async () => (await rig.rpc.getTransaction(ours.hash!)) !== null);

    // Same nonce, higher fees: the node replaces our transaction with theirs and mines it.
    await rig.other.sendTransaction({
      to: rig.other.address,
      value: 0n,
      nonce: ours.nonce,
      maxFeePerGas: ours.maxFeePerGas! * 2n,
      maxPriorityFeePerGas: ours.maxPriorityFeePerGas! * 2n,
    });
    await rig.rpc.send('evm_mine', []);
    const resigned = await untilBatch(
      rig,
      batchId,
      (b) => b.status === 'submitted' && b.tx_hash !== submitted.tx_hash,
      'signed again',
    );
    expect(Transaction.from(resigned.raw_tx!).nonce).toBe(ours.nonce + 1);
    // The row is written before the transaction is broadcast (commit before publishing): mining
    // before it reaches the pool would mine an empty block, and automine, switched on below, mines
    // only transactions that arrive after it.
    await waitFor(
      'the new anchor in the pool',
      async () => (await rig.rpc.getTransaction(resigned.tx_hash!)) !== null,
    );
    await rig.rpc.send('evm_mine', []);
    await rig.rpc.send('evm_setAutomine', [true]);

    await untilBatch(rig, batchId, (b) => b.status === 'final', 'final');
    await expectAnchoredOnce(rig, batchId);
    expect(await rig.rpc.getTransactionReceipt(ours.hash!)).toBeNull();
  });

  it('a nonce gap in front of the anchor: signed again at the free nonce; the stale one reverts', async () => {
    await rig.rpc.send('evm_setAutomine', [false]);
    // An unrelated account's gapped transaction sits in the pool throughout: not our business.
    const stranger = new Wallet(`0x${'5a'.repeat(32)}`, rig.rpc);
    await rig.rpc.send('hardhat_setBalance', [stranger.address, '0x56BC75E2D63100000']);
    const strangerTx: string = await rig.rpc.send('eth_sendRawTransaction', [
      await stranger.signTransaction(
        await stranger.populateTransaction({ to: stranger.address, value: 1n, nonce: 5 }),
      ),
    ]);
    // The other holder's transaction takes the next nonce, so ours is signed one above it...
    const theirs = await rig.other.sendTransaction({ to: rig.other.address, value: 0n });
    const { batchId } = await sealNew(rig);
    const submitted = await untilBatch(rig, batchId, (b) => b.status === 'submitted', 'submitted');
    const stale = Transaction.from(submitted.raw_tx!);
    expect(stale.nonce).toBe(theirs.nonce + 1);

    // ...and theirs is dropped: ours now waits behind a gap that nobody will fill.
    expect(await rig.rpc.send('hardhat_dropTransaction', [theirs.hash])).toBe(true);
    const resigned = await untilBatch(
      rig,
      batchId,
      (b) => b.status === 'submitted' && b.tx_hash !== submitted.tx_hash,
      'signed again at the gap',
    );
    expect(Transaction.from(resigned.raw_tx!).nonce).toBe(theirs.nonce);
    await waitFor(
      'the new anchor in the pool',
      async () => (await rig.rpc.getTransaction(resigned.tx_hash!)) !== null,
    );
    await rig.rpc.send('evm_mine', []);
    await rig.rpc.send('evm_setAutomine', [true]);

    await untilBatch(rig, batchId, (b) => b.status === 'final', 'final');
    await expectAnchoredOnce(rig, batchId);
    // The stale anchor was mined after the new one and reverted (BatchOutOfOrder): no second anchor.
    const staleReceipt = await waitFor('the stale anchor mined', () =>
      rig.rpc.getTransactionReceipt(stale.hash!),
    );
    expect(staleReceipt.status).toBe(0);
    expect(await rig.rpc.getTransaction(strangerTx)).not.toBeNull();
    await rig.rpc.send('hardhat_dropTransaction', [strangerTx]);
  });
  it('the base fee rises above what the anchor offers: replaced at the same nonce with higher fees', async () => {
    await rig.rpc.send('evm_setAutomine', [false]);
    const { batchId } = await sealNew(rig);
    const submitted = await untilBatch(rig, batchId, (b) => b.status === 'submitted', 'submitted');
    const stuck = Transaction.from(submitted.raw_tx!);
    await waitFor('the anchor in the pool', async () => (await rig.rpc.getTransaction(stuck.hash!)) !== null);

    // A block whose base fee is far above the anchor's max fee: the anchor cannot be included.
    await rig.rpc.send('hardhat_setNextBlockBaseFeePerGas', [`0x${(stuck.maxFeePerGas! * 4n).toString(16)}`]);
    await rig.rpc.send('evm_mine', []);
    expect(await rig.rpc.getTransactionReceipt(stuck.hash!)).toBeNull();
    const replaced = await untilBatch(
      rig,
      batchId,
      (b) => b.status === 'submitted' && b.tx_hash !== submitted.tx_hash,
      'replaced',
    );
    const replacement = Transaction.from(replaced.raw_tx!);
    expect(replacement.nonce).toBe(stuck.nonce);
    expect(replacement.maxFeePerGas! > stuck.maxFeePerGas! * 3n).toBe(true);
    await waitFor(
      'the replacement in the pool',
      async () => (await rig.rpc.getTransaction(replacement.hash!)) !== null,
    );
    await rig.rpc.send('evm_mine', []);
    await rig.rpc.send('evm_setAutomine', [true]);

    await untilBatch(rig, batchId, (b) => b.status === 'final', 'final');
    const row = await expectAnchoredOnce(rig, batchId);
    expect(row.tx_hash).toBe(replacement.hash);
    expect(await rig.rpc.getTransactionReceipt(stuck.hash!)).toBeNull();
  });
});

describe('a reorg before final (sqlite, CONFIRMATIONS=3)', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({ CONFIRMATIONS: '3' });
  });
  afterAll(() => stopRig(rig));

  it('the anchoring block is reorged away: anchored again, and never genuine before final', async () => {
    const snapshot = await rig.rpc.send('evm_snapshot', []);
    const { batchId, recordIds } = await sealNew(rig);
    const sampler = sampleVerdicts(rig, recordIds[0]!, batchId);
    const first = await untilBatch(rig, batchId, (b) => b.status === 'anchored', 'anchored');

    await rig.rpc.send('evm_revert', [snapshot]);
    await rig.rpc.send('hardhat_mine', ['0x2']);
    // Re-sent and mined again (automine) in another block; final once three blocks deep.
    const again = await untilBatch(
      rig,
      batchId,
      (b) => b.status === 'anchored' && b.block_hash !== first.block_hash,
      'anchored in another block',
    );
    expect(again.tx_hash).toBe(first.tx_hash);
    expect(await verdictOf(rig, recordIds[0]!)).toBe('pending');
    await rig.rpc.send('hardhat_mine', ['0x2']);
    await untilBatch(rig, batchId, (b) => b.status === 'final', 'final');
    const seen = await sampler.done();
    await expectAnchoredOnce(rig, batchId);
    expect(await verdictOf(rig, recordIds[0]!)).toBe('genuine');
    expect(
      seen.filter((s) => s.verdict === 'genuine').every((s) => s.status === 'final' && s.canonical),
    ).toBe(true);
    expect(seen.some((s) => s.verdict === 'pending')).toBe(true);
  });
});
