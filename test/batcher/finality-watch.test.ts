/**
 * FinalityWatch: how long the node's safe/finalized block has stood still, and the words GET
 * /healthz says once that is longer than FINALITY_STALL_MS. No chain: readings and times are given.
 */
import { describe, expect, it } from 'vitest';
import { FinalityWatch } from '../../src/batcher/finality-watch.ts';

const STALL_MS = 20 * 60_000;
const minutes = (n: number) => n * 60_000;

describe('FinalityWatch', () => {
  it('nothing to say before the first reading, nor while the block advances', () => {
    const watch = new FinalityWatch('finalized', STALL_MS);
    expect(watch.ageSeconds(0)).toBeNull();
    expect(watch.stalled(minutes(60))).toBeNull();
    for (let i = 0; i <= 10; i++) watch.saw(100 + i, minutes(6.4 * i));
    expect(watch.ageSeconds(minutes(64) + 30_000)).toBe(30);
    expect(watch.stalled(minutes(64) + 30_000)).toBeNull();
  });

  it('standing still past FINALITY_STALL_MS: says so in words, with the block it is stuck at; clears when it moves', () => {
    const watch = new FinalityWatch('finalized', STALL_MS);
    watch.saw(500, 0);
    watch.saw(500, minutes(10));
    expect(watch.stalled(minutes(20))).toBeNull();
    expect(watch.stalled(minutes(31))).toBe(
      "the node's finalized block has not advanced for 31 min (still block 500; FINALITY_STALL_MS is 20 min): no batch becomes final until it does",
    );
    expect(watch.ageSeconds(minutes(31))).toBe(31 * 60);
    watch.saw(501, minutes(32));
    expect(watch.stalled(minutes(33))).toBeNull();
    expect(watch.ageSeconds(minutes(33))).toBe(60);
  });

  it('a block lower than the one seen (a node behind a load balancer) is not an advance', () => {
    const watch = new FinalityWatch('safe', 1000);
    watch.saw(500, 0);
    watch.saw(499, 900);
    expect(watch.stalled(1500)).toContain("the node's safe block has not advanced for 2 s (still block 500;");
  });

  it('a node with no such block yet: its age counts from the first reading', () => {
    const watch = new FinalityWatch('finalized', 1000);
    watch.saw(null, 0);
    expect(watch.stalled(5000)).toContain('(it has no finalized block;');
    watch.saw(1, 6000);
    expect(watch.stalled(6500)).toBeNull();
  });
});
