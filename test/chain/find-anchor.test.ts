/**
 * Finding a batch's BatchAnchored event on a long chain without asking for more than
 * LOG_WINDOW_BLOCKS at once (public RPCs refuse wide eth_getLogs ranges): through a proxy that
 * records every range asked for, on a real Hardhat chain some 24,000 blocks long.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRegistry, LOG_WINDOW_BLOCKS, type AnchorChain } from '../../src/chain/registry.ts';
import type { Hex } from '../../src/core/index.ts';
import { ChainProbe } from '../faults/faulty-chain.ts';
import { startRpcProxy, type RpcProxy } from '../helpers/rpc-proxy.ts';
import { startSharedChain, type SharedChain } from '../scale/cluster.ts';

const root = (n: number) => `0x${n.toString(16).padStart(64, '0')}` as Hex;

describe('findAnchor on a long chain, in bounded windows', () => {
  let shared: SharedChain;
  let proxy: RpcProxy;
  let chain: AnchorChain;
  const blockOf: Record<number, number> = {};

  beforeAll(async () => {
    shared = await startSharedChain();
    const contract = await shared.deploy();
    const probe = new ChainProbe(shared.url, contract);
    try {
      for (const batchId of [1, 2]) {
        await probe.anchorOutOfBand(batchId, root(batchId), 10);
        blockOf[batchId] = await probe.head();
        await shared.rpc('hardhat_mine', [`0x${(2 * LOG_WINDOW_BLOCKS + 2000).toString(16)}`]);
      }
    } finally {
      probe.close();
    }
    proxy = await startRpcProxy(shared.url);
    chain = await connectRegistry({ rpcUrl: proxy.url, contract });
  });
  afterAll(async () => {
    chain?.close();
    await proxy?.close();
    await shared?.close();
  });

  /** Every eth_getLogs since `from` asked for numbered blocks, at most LOG_WINDOW_BLOCKS of them. */
  function expectBoundedRanges(from: number): number {
    const ranges = proxy.logRanges().slice(from);
    for (const { fromBlock, toBlock } of ranges) {
      expect(typeof fromBlock === 'string' && typeof toBlock === 'string').toBe(true);
      expect(Number(toBlock) - Number(fromBlock) + 1).toBeLessThanOrEqual(LOG_WINDOW_BLOCKS);
    }
    return ranges.length;
  }

  it('finds an old anchor with no hint by walking back from the head', async () => {
    const before = proxy.logRanges().length;
    const found = await chain.findAnchor(1);
    expect(found).toMatchObject({ batchId: 1, root: root(1), blockNumber: blockOf[1] });
    expect(expectBoundedRanges(before)).toBeGreaterThan(2);
  });

  it("with the bundle's block as a hint, one window", async () => {
    const before = proxy.logRanges().length;
    expect(await chain.findAnchor(2, blockOf[2])).toMatchObject({ batchId: 2, blockNumber: blockOf[2] });
    expect(expectBoundedRanges(before)).toBe(1);
  });

  it('a hint past the anchor (a re-anchor moved it) still finds it, and an unknown id is null', async () => {
    let before = proxy.logRanges().length;
    expect(await chain.findAnchor(1, blockOf[2])).toMatchObject({ batchId: 1, blockNumber: blockOf[1] });
    expectBoundedRanges(before);
    before = proxy.logRanges().length;
    expect(await chain.findAnchor(3)).toBeNull();
    expect(expectBoundedRanges(before)).toBe(Math.ceil((await chain.headNumber()) / LOG_WINDOW_BLOCKS));
  });
});
