/**
 * SIGKILL at every crash point with the embedded development chain, which dies with the process:
 * the restart replays the anchored batches onto a fresh chain and must still anchor each batch once.
 */
import { describe, it } from 'vitest';
import { CRASH_POINTS } from '../../src/batcher/crash-points.ts';
import { crashAndRecover, type CrashAt } from './crash-scenario.ts';

const POINTS: CrashAt[] = ['after-ack', ...CRASH_POINTS];

describe('SIGKILL at each crash point, embedded development chain', () => {
  it.each(POINTS)('%s: restart on the same data anchors every acknowledged record once', async (at) => {
    await crashAndRecover(at, { kind: 'embedded' });
  });
});
