import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

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

/**
 * The longest files, started first within their group so that none starts last and alone. Vitest
 * orders by the durations it cached on an earlier run, or by file size on a fresh clone (CI), where
 * the pipelined suites, three lines that call a shared suite, would otherwise start last.
 */
const LONGEST_FIRST = ['test/faults/pipelined.', 'test/faults/crash-points.'];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const at = LONGEST_FIRST.findIndex((p) => f.moduleId.includes(p));
      return at === -1 ? LONGEST_FIRST.length : at;
    };
    // Vitest's order keeps each project's files together; reorder within each run of one project only.
    const runs: TestSpecification[][] = [];
    for (const file of await super.sort(files)) {
      const run = runs.at(-1);
      if (run && run[0]!.project === file.project) run.push(file);
      else runs.push([file]);
    }
    return runs.flatMap((run) => run.sort((a, b) => rank(a) - rank(b)));
  }
}

const shared = {
  testTimeout: 60_000,
  hookTimeout: 120_000,
  // Files start Hardhat networks, databases and server processes: each in a process of its own.
  pool: 'forks',
} as const;

export default defineConfig({
  test: {
    sequence: { sequencer: LongestFirst },
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
