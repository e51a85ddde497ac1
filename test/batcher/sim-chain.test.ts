/**
 * The simulated node (sim-chain.ts) answers as real nodes do where the anchorer reads: what these
 * cases pin is what test/faults and test/chain see from Hardhat and anvil. The anchorer's tests on
 * the memory store are only as good as these answers.
 */
import { describe, expect, it } from 'vitest';
import { classifyRefusal } from '../../src/chain/rpc-provider.ts';
import type { Hex } from '../../src/core/index.ts';
import { GWEI, SimChain } from './sim-chain.ts';

const ROOT = `0x${'aa'.repeat(32)}` as Hex;

/** A chain mining only when told, and our anchor of `batchId` signed at `nonce`. */
async function signed(chain: SimChain, batchId: number, nonce?: number) {
  return chain.signAnchor(batchId, ROOT, 1, nonce);
}

function interval(): SimChain {
  const chain = new SimChain();
  chain.automine = false;
  return chain;
}

describe('the simulated node', () => {
  it('a transaction by hash: pending in the pool, mined in a block, unknown once dropped', async () => {
    const chain = interval();
    const a = await signed(chain, 1);
    expect(await chain.transaction(a.txHash)).toBeNull();
    await chain.broadcast(a.rawTx);
    expect(await chain.transaction(a.txHash)).toBe('pending');
    expect(await chain.receipt(a.txHash)).toBeNull();
    chain.mine();
    expect(await chain.transaction(a.txHash)).toBe('mined');
    expect(await chain.receipt(a.txHash)).toMatchObject({ status: 'success', blockNumber: 1 });

    const b = await signed(chain, 2);
    await chain.broadcast(b.rawTx);
    chain.drop(b.txHash);
    expect(await chain.transaction(b.txHash)).toBeNull();
  });

  it("a reorg: the orphaned block's transactions gone (Hardhat's evm_revert, anvil_reorg) or pooled again (geth)", async () => {
    const chain = new SimChain();
    const a = await signed(chain, 1);
    await chain.broadcast(a.rawTx);
    const mined = await chain.blockHash(1);
    chain.reorg(1);
    expect(await chain.transaction(a.txHash)).toBeNull();
    expect(await chain.blockHash(1)).toBeNull();
    expect(await chain.nextBatchId()).toBe(1);
    await chain.broadcast(a.rawTx);
    expect(await chain.blockHash(1)).not.toBe(mined);

    chain.reorg(1, 'pooled');
    expect(await chain.transaction(a.txHash)).toBe('pending');
    chain.mine();
    expect(await chain.receipt(a.txHash)).toMatchObject({ status: 'success', blockNumber: 1 });
  });

  it('nonces: latest counts mined ones, pending also the run the pool holds; one behind a gap waits uncounted', async () => {
    const chain = interval();
    const second = await signed(chain, 2, 1);
    await chain.broadcast(second.rawTx);
    expect([await chain.minedNonce(), await chain.pendingNonce()]).toEqual([0, 0]);
    expect(await chain.transaction(second.txHash)).toBe('pending');
    chain.mine();
    expect(await chain.transaction(second.txHash)).toBe('pending');
    const first = await signed(chain, 1);
    expect(await chain.broadcast(first.rawTx)).toEqual({ kind: 'sent' });
    expect([await chain.minedNonce(), await chain.pendingNonce()]).toEqual([0, 2]);
    chain.mine();
    expect([await chain.minedNonce(), await chain.pendingNonce()]).toEqual([2, 2]);
    expect(await chain.nextBatchId()).toBe(3);
  });

  it("sends: a duplicate is already known, a mined nonce used, an underbid replacement refused, in a real node's words", async () => {
    const chain = interval();
    const tx = await signed(chain, 1);
    expect(await chain.broadcast(tx.rawTx)).toEqual({ kind: 'sent' });
    expect(await chain.broadcast(tx.rawTx)).toEqual({ kind: 'already-known' });
    // The base fee halved: the same anchor signed again at nonce 0 offers less than the pooled one.
    chain.fee = GWEI / 2n;
    const underbid = await signed(chain, 1, 0);
    const refusals = [await chain.broadcast(underbid.rawTx)];
    chain.mine();
    // Mined: only the pool knows duplicates, so the node answers for the nonce.
    refusals.push(await chain.broadcast(tx.rawTx), await chain.broadcast(underbid.rawTx));
    expect(refusals.map((o) => o.kind)).toEqual(['fee-too-low', 'nonce-used', 'nonce-used']);
    for (const o of refusals) expect(classifyRefusal('error' in o ? o.error : null)).toBe(o.kind);
  });

  it('a replacement that outbids the pooled transaction takes its place; the replaced one is unknown', async () => {
    const chain = interval();
    const tx = await signed(chain, 1);
    await chain.broadcast(tx.rawTx);
    const replacement = await chain.signReplacement(tx.rawTx, 5n * GWEI);
    expect(await chain.broadcast(replacement.rawTx)).toEqual({ kind: 'sent' });
    expect(await chain.transaction(tx.txHash)).toBeNull();
    chain.mine();
    expect(await chain.transaction(replacement.txHash)).toBe('mined');
  });

  it('below the base fee: geth pools it unmined; anvil refuses it', async () => {
    const chain = interval();
    const tx = await signed(chain, 1);
    chain.fee = 10n * GWEI;
    expect(await chain.broadcast(tx.rawTx)).toEqual({ kind: 'sent' });
    chain.mine();
    expect(await chain.transaction(tx.txHash)).toBe('pending');

    const anvil = interval();
    const refused = await signed(anvil, 1);
    anvil.fee = 10n * GWEI;
    anvil.refusesUnderBaseFee = true;
    const outcome = await anvil.broadcast(refused.rawTx);
    expect(outcome.kind).toBe('fee-too-low');
    expect(classifyRefusal('error' in outcome ? outcome.error : null)).toBe('fee-too-low');
  });

  it('an account that cannot pay: insufficient funds, naming the account and the cost; the balance falls by what mined transactions paid', async () => {
    const chain = new SimChain();
    const start = await chain.balance();
    const tx = await signed(chain, 1);
    await chain.broadcast(tx.rawTx);
    const receipt = (await chain.receipt(tx.txHash))!;
    expect(await chain.balance()).toBe(start - receipt.gasUsed * receipt.gasPrice);

    chain.funds = 0n;
    const broke = await signed(chain, 2);
    const outcome = await chain.broadcast(broke.rawTx);
    expect(outcome.kind).toBe('insufficient-funds');
    expect('error' in outcome && outcome.error.message).toMatch(
      /^anchorer 0x[0-9a-fA-F]{40} has insufficient funds to anchor batch 2/,
    );
  });

  it('the safe and finalized blocks trail the head by their lags, never below genesis', async () => {
    const chain = interval();
    chain.safeLag = 2;
    chain.finalizedLag = 4;
    for (let i = 0; i < 3; i++) chain.mine();
    expect([await chain.taggedBlock('safe'), await chain.taggedBlock('finalized')]).toEqual([1, 0]);
    for (let i = 0; i < 3; i++) chain.mine();
    expect([await chain.taggedBlock('safe'), await chain.taggedBlock('finalized')]).toEqual([4, 2]);
  });

  it("the contract: ids in order, once each; another's anchor counts as any other", async () => {
    const chain = new SimChain();
    const early = await signed(chain, 2);
    await chain.broadcast(early.rawTx);
    expect(await chain.receipt(early.txHash)).toMatchObject({ status: 'reverted' });
    chain.anchorAsOther(1, ROOT);
    const again = await signed(chain, 1);
    await chain.broadcast(again.rawTx);
    expect(await chain.receipt(again.txHash)).toMatchObject({ status: 'reverted' });
    expect(chain.anchoredRoots()).toEqual(new Map([[1, ROOT]]));
  });

  it('another holder of our key takes a nonce: a block holding only its transaction; ours above stay pooled', async () => {
    const chain = interval();
    const low = await signed(chain, 1);
    await chain.broadcast(low.rawTx);
    const high = await signed(chain, 2);
    await chain.broadcast(high.rawTx);
    chain.takeNonce(0);
    expect(await chain.transaction(low.txHash)).toBeNull();
    expect(await chain.transaction(high.txHash)).toBe('pending');
    expect([await chain.minedNonce(), await chain.pendingNonce()]).toEqual([1, 2]);
  });

  it('notes what the anchorer must never do: sign a batch again while its anchor is held, send a second one, anchor a held id', async () => {
    const chain = interval();
    const first = await signed(chain, 1);
    await chain.broadcast(first.rawTx);
    const second = await signed(chain, 1, 1);
    await chain.broadcast(second.rawTx);
    chain.mine();
    const third = await signed(chain, 1);
    await chain.broadcast(third.rawTx);
    expect(chain.breaches).toEqual([
      'signed batch 1 again while the node holds its anchor at nonce 0',
      'sent batch 1 at nonce 1 while the pool holds it at 0',
      'sent an anchor for batch 1, which the contract already holds',
    ]);
  });

  it('a batch signed again over its anchor held behind a nonce gap is no breach: the new one fills the gap, the stale one reverts', async () => {
    const chain = interval();
    const transfer = chain.sendAsHolder(0);
    const stale = await signed(chain, 1);
    await chain.broadcast(stale.rawTx);
    chain.drop(transfer.txHash);
    const fresh = await signed(chain, 1);
    expect(await chain.broadcast(fresh.rawTx)).toEqual({ kind: 'sent' });
    chain.mine();
    expect(await chain.receipt(fresh.txHash)).toMatchObject({ status: 'success' });
    expect(await chain.receipt(stale.txHash)).toMatchObject({ status: 'reverted' });
    expect(chain.breaches).toEqual([]);
  });
});
