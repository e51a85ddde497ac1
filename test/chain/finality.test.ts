/**
 * Choosing the finality rule at start (CONFIRMATIONS): a number is a depth; a tag is used only if
 * the node can say which block carries it; unset on a real chain, the finalized tag if the node has
 * it, else the fallback depth, with the reason given for the log. No chain: the node's answer is given.
 */
import { describe, expect, it } from 'vitest';
import { chooseFinality, describeFinality, type FinalitySetting } from '../../src/chain/finality.ts';

const answers = (block: number | null | Error) => ({
  taggedBlock: async () => {
    if (block instanceof Error) throw block;
    return block;
  },
});
const unknownTag = new Error('RPC error -32602 on eth_getBlockByNumber: invalid block tag finalized');

describe('chooseFinality', () => {
  const AUTO: FinalitySetting = { kind: 'tag-or-depth', tag: 'finalized', blocks: 12 };

  it('a number of blocks: that depth, the node not even asked', async () => {
    const chosen = await chooseFinality({ kind: 'depth', blocks: 3 }, answers(new Error('not asked')));
    expect(chosen.rule).toEqual({ kind: 'depth', blocks: 3 });
  });

  it('unset on a real chain, the node answers the finalized tag: finalized, and the log says why', async () => {
    expect(await chooseFinality(AUTO, answers(1234))).toEqual({
      rule: { kind: 'tag', tag: 'finalized' },
      why: 'CONFIRMATIONS is unset and the node answers the finalized tag',
    });
  });

  it('unset on a real chain, the node does not know the tag: 12 blocks deep, and the log says why', async () => {
    const chosen = await chooseFinality(AUTO, answers(unknownTag));
    expect(chosen.rule).toEqual({ kind: 'depth', blocks: 12 });
    expect(chosen.why).toContain('does not answer the "finalized" block tag');
    expect(chosen.why).toContain('invalid block tag');
    expect((await chooseFinality(AUTO, answers(null))).rule).toEqual({ kind: 'depth', blocks: 12 });
  });

  it('CONFIRMATIONS=safe or finalized: the tag, or an error that stops the start if the node cannot give it', async () => {
    expect((await chooseFinality({ kind: 'tag', tag: 'safe' }, answers(7))).rule).toEqual({
      kind: 'tag',
      tag: 'safe',
    });
    await expect(chooseFinality({ kind: 'tag', tag: 'finalized' }, answers(unknownTag))).rejects.toThrow(
      /CONFIRMATIONS is finalized, but the node cannot say which block that is/,
    );
  });

  it('in words', () => {
    expect(describeFinality({ kind: 'depth', blocks: 1 })).toBe('1 confirmation');
    expect(describeFinality({ kind: 'depth', blocks: 12 })).toBe('12 confirmations');
    expect(describeFinality({ kind: 'tag', tag: 'finalized' })).toBe(
      "at or below the node's finalized block",
    );
  });
});
