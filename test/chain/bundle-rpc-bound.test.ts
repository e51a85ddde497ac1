/**
 * The chain step of verifying a bundle (src/chain/bundle-check.ts) against a scripted chain that
 * records every read: each way the anchor can be found or proved, under a depth and under a tag
 * rule, and for every `anchor.blockNumber` a forger might write, never more than
 * MAX_RPC_CALLS_PER_BUNDLE reads. (test/abuse/verify-amplification.test.ts does the same on a real
 * chain through an RPC proxy.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  MAX_RPC_CALLS_PER_BUNDLE,
  verifyBundleOnChain,
  type BundleChain,
} from '../../src/chain/bundle-check.ts';
import type { FinalityRule } from '../../src/chain/finality.ts';
import type { AnchorEvent } from '../../src/chain/registry.ts';
import type { Hex, ProofBundleV1 } from '../../src/core/index.ts';

const vector = JSON.parse(
  readFileSync(
    join(import.meta.dirname, '..', 'vectors', 'valid-licence-issued-single-leaf-batch.json'),
    'utf8',
  ),
) as { bundle: ProofBundleV1 };
const ZERO = `0x${'00'.repeat(32)}` as Hex;

/**
 * A chain whose head is `head`, where batch 1's root was anchored in block `anchoredIn` (its state
 * holds the root from that block on), and whose node tags `tagged` as safe/finalized.
 */
function chainOf(opts: { head: number; anchoredIn: number; tagged?: number | null }) {
  const reads: string[] = [];
  const { bundle } = vector;
  const event: AnchorEvent = {
    batchId: 1,
    root: bundle.root!,
    leafCount: 1,
    txHash: bundle.anchor.txHash!,
    blockNumber: opts.anchoredIn,
    blockHash: `0x${'bb'.repeat(32)}` as Hex,
  };
  const chain: BundleChain = {
    chainId: bundle.anchor.chainId,
    contract: bundle.anchor.contract.toLowerCase() as Hex,
    async headNumber() {
      reads.push('head');
      return opts.head;
    },
    async rootOf(batchId, atBlock) {
      reads.push(`rootOf@${atBlock}`);
      return batchId === 1 && (atBlock ?? opts.head) >= opts.anchoredIn ? bundle.root! : ZERO;
    },
    async anchorIn(batchId, fromBlock, toBlock) {
      reads.push(`logs ${fromBlock}-${toBlock}`);
      return batchId === 1 && opts.anchoredIn >= fromBlock && opts.anchoredIn <= toBlock ? event : null;
    },
    async taggedBlock(tag) {
      reads.push(tag);
      return opts.tagged ?? null;
    },
  };
  return { chain, reads };
}

const withHint = (blockNumber: number): ProofBundleV1 => ({
  ...vector.bundle,
  anchor: { ...vector.bundle.anchor, blockNumber },
});

const depth = (blocks: number): FinalityRule => ({ kind: 'depth', blocks });
const finalized: FinalityRule = { kind: 'tag', tag: 'finalized' };

describe('the chain step of a verification, in reads', () => {
  it('the hint checks out: exact depth in three reads (four with a tag)', async () => {
    const { chain, reads } = chainOf({ head: 1000, anchoredIn: 7, tagged: 900 });
    expect(await verifyBundleOnChain(chain, withHint(7), depth(12))).toMatchObject({
      valid: true,
      confirmations: 994,
      blockNumber: 7,
    });
    expect(reads).toEqual(['head', 'rootOf@1000', 'logs 7-7']);
    reads.length = 0;
    expect(await verifyBundleOnChain(chain, withHint(7), finalized)).toMatchObject({
      valid: true,
      blockNumber: 7,
    });
    expect(reads).toEqual(['head', 'rootOf@1000', 'logs 7-7', 'finalized']);
  });

  it('a wrong hint, the anchor among the latest blocks (a reorg moved it): still exact', async () => {
    const { chain, reads } = chainOf({ head: 10_000, anchoredIn: 9000 });
    expect(await verifyBundleOnChain(chain, withHint(8990), depth(12))).toMatchObject({
      valid: true,
      confirmations: 1001,
      blockNumber: 9000,
    });
    expect(reads).toEqual(['head', 'rootOf@10000', 'logs 8990-8990', 'logs 5001-10000']);
  });

  it('a wrong hint, an old anchor: the state proves depth, reported as the lower bound', async () => {
    const { chain, reads } = chainOf({ head: 1_000_000, anchoredIn: 7 });
    expect(await verifyBundleOnChain(chain, withHint(500_000), depth(12))).toEqual({
      valid: true,
      bundle: withHint(500_000),
      confirmations: 12,
      blockNumber: null,
    });
    expect(reads).toEqual([
      'head',
      'rootOf@1000000',
      'logs 500000-500000',
      'logs 995001-1000000',
      'rootOf@999989',
    ]);
  });

  it('a wrong hint under a tag rule: the root as of the tagged block decides, without a log scan', async () => {
    const final = chainOf({ head: 1_000_000, anchoredIn: 7, tagged: 999_900 });
    expect(await verifyBundleOnChain(final.chain, withHint(3), finalized)).toMatchObject({
      valid: true,
      confirmations: 101,
      blockNumber: null,
    });
    expect(final.reads).toEqual(['head', 'rootOf@1000000', 'logs 3-3', 'finalized', 'rootOf@999900']);

    const early = chainOf({ head: 1_000_000, anchoredIn: 999_950, tagged: 999_900 });
    expect(await verifyBundleOnChain(early.chain, withHint(3), finalized)).toMatchObject({
      valid: false,
      failure: 'not_final',
    });
    const none = chainOf({ head: 1_000_000, anchoredIn: 7, tagged: null });
    expect(await verifyBundleOnChain(none.chain, withHint(3), finalized)).toMatchObject({
      valid: false,
      failure: 'not_final',
    });
  });

  it('too shallow, found or proved by state: not_final', async () => {
    const found = chainOf({ head: 1000, anchoredIn: 995 });
    expect(await verifyBundleOnChain(found.chain, withHint(995), depth(12))).toMatchObject({
      failure: 'not_final',
    });
    const proved = chainOf({ head: 1000, anchoredIn: 995 });
    // The hint is wrong and the latest-blocks window is made to miss the anchor: the state decides.
    proved.chain.anchorIn = async () => null;
    expect(await verifyBundleOnChain(proved.chain, withHint(3), depth(12))).toMatchObject({
      failure: 'not_final',
    });
  });

  it.each([
    ['the anchor block', 7],
    ['one off', 8],
    ['0', 0],
    ['the middle of the chain', 500_000],
    ['the head', 1_000_000],
    ['past the head', 2_000_000],
    ['the largest integer', Number.MAX_SAFE_INTEGER],
  ])('blockNumber at %s: at most MAX_RPC_CALLS_PER_BUNDLE reads under either rule', async (_what, hint) => {
    for (const rule of [depth(12), depth(600_000), finalized]) {
      const { chain, reads } = chainOf({ head: 1_000_000, anchoredIn: 7, tagged: 999_000 });
      const verdict = await verifyBundleOnChain(chain, withHint(hint), rule);
      expect(verdict.valid, JSON.stringify(rule)).toBe(true);
      expect(reads.length, `${JSON.stringify(rule)}: ${reads.join(', ')}`).toBeLessThanOrEqual(
        MAX_RPC_CALLS_PER_BUNDLE,
      );
    }
  });
});
