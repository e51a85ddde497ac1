/**
 * SIGKILL at every crash point with a separate `hardhat node` that outlives the service, as a real
 * chain does: whatever the dead process sent stays on chain, and the restart must adopt it, never
 * anchor a batch id twice.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { CRASH_POINTS } from '../../src/batcher/crash-points.ts';
import { DEV_DEPLOYER_KEY } from '../../src/chain/dev-chain.ts';
import { startHardhatNode, type HardhatNode } from '../helpers/hardhat-node.ts';
import { crashAndRecover, type CrashAt } from './crash-scenario.ts';

const POINTS: CrashAt[] = ['after-ack', ...CRASH_POINTS];

describe('SIGKILL at each crash point, a hardhat node that outlives the service', () => {
  let node: HardhatNode;
  beforeAll(async () => {
    node = await startHardhatNode();
  });
  afterAll(async () => {
    await node?.stop();
  });

  it.each(POINTS)('%s: restart on the same data anchors every acknowledged record once', async (at) => {
    await crashAndRecover(at, { kind: 'node', node, anchorerKey: DEV_DEPLOYER_KEY });
  });
});
