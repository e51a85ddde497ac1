/**
 * The scenario both node files run (one file per node, so the two run in parallel workers):
 * SIGKILL at every crash point with several anchors in flight, on both node implementations mining
 * a block a second, each in a process of its own that outlives the service: three or four anchor
 * transactions signed at consecutive nonces and not yet mined when the process dies. The restart
 * must send the ones saved and not held by the node, adopt what the chain already has, and end with
 * every batch id anchored exactly once, in order.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { CRASH_POINTS } from '../../src/batcher/crash-points.ts';
import { DEV_DEPLOYER_KEY } from '../../src/chain/dev-chain.ts';
import { startAnvilNode } from '../helpers/anvil-node.ts';
import type { ChainNode, NodeKind } from '../helpers/chain-node.ts';
import { startHardhatNode } from '../helpers/hardhat-node.ts';
import { crashAndRecover } from './crash-scenario.ts';

const BLOCK_MS = 1000;

/**
 * The points killed here with anchors in flight: signed and saved (three unmined below it), sent, and
 * the first receipt seen but not saved (four in flight). after-seal and after-anchored leave the same
 * in-flight state as after-sign and after-mined, one step earlier or later, and the single-anchor
 * crash tests (crash-points.{embedded,node}.test.ts) kill there; leaving them out saves CI a minute.
 */
const IN_FLIGHT_POINTS = CRASH_POINTS.filter((p) =>
  ['after-sign', 'after-broadcast', 'after-mined'].includes(p),
);

export function crashPointsPipelined(kind: NodeKind): void {
  describe(`SIGKILL with several anchors in flight, ${kind} mining a block a second`, () => {
    let node: ChainNode;
    beforeAll(async () => {
      node =
        kind === 'anvil'
          ? await startAnvilNode({ blockTimeS: BLOCK_MS / 1000 })
          : await startHardhatNode({ blockTimeMs: BLOCK_MS });
    });
    afterAll(async () => {
      await node?.stop();
    });

    it.each(IN_FLIGHT_POINTS)(
      '%s: restart on the same data anchors every acknowledged record once',
      async (at) => {
        await crashAndRecover(at, {
          kind: 'node',
          node,
          anchorerKey: DEV_DEPLOYER_KEY,
          pipelined: { blockMs: BLOCK_MS },
        });
      },
    );
  });
}
