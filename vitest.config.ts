import { defineConfig } from 'vitest/config';

/**
 * Chain-fault files: each drives a node mining on a 1 s clock (or restarts `proofmark serve` around
 * a crash) and spends most of its time waiting for blocks, not computing. They run first, as a group
 * of their own with more workers than cores; the rest, some of which time CPU-bound work (the abuse
 * tests), then run on one worker per core.
 */
const CHAIN_WAITS = [
  'test/faults/chain-faults.test.ts',
  'test/faults/crash-points.*.test.ts',
  'test/faults/pipelined.*.test.ts',
];

const shared = {
  testTimeout: 60_000,
  hookTimeout: 120_000,
  // Files start Hardhat networks, databases and server processes: each in a process of its own.
  pool: 'forks',
} as const;

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: 'chain-waits',
          include: CHAIN_WAITS,
          maxWorkers: 4,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...shared,
          name: 'rest',
          include: ['test/**/*.test.ts'],
          exclude: CHAIN_WAITS,
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
