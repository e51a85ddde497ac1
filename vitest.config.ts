import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Files that start Hardhat networks and databases run in parallel processes; two cores.
    pool: 'forks',
    maxWorkers: 2,
  },
});
