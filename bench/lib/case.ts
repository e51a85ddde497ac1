/** What every case shares: its options, how it states a target, and how it runs on its own. */
import { writeFileSync } from 'node:fs';
import { progress } from './log.ts';

export interface CaseOptions {
  quick: boolean;
  /** Overrides how many times a case repeats its measurement (for profiling one run). */
  runs?: number | undefined;
}

export interface Target {
  id: string;
  case: string;
  /** The target in plain words. */
  target: string;
  /** The measured figure, in plain words. */
  figure: string;
  /** null: could not be measured. */
  pass: boolean | null;
  /** Measured at a smaller size than the target names (quick mode): indicative only. */
  provisional?: boolean;
}

/** Runs a case as a program: `[--quick] [--runs n] [--json-out file]`; the result goes to the file or stdout. */
export async function caseMain<T>(run: (opts: CaseOptions) => Promise<T>): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const outIndex = args.indexOf('--json-out');
  const out = outIndex >= 0 ? args[outIndex + 1] : undefined;
  const runsIndex = args.indexOf('--runs');
  const runs = runsIndex >= 0 ? Number(args[runsIndex + 1]) : undefined;
  const started = performance.now();
  const result = await run({ quick, runs });
  const json = JSON.stringify(result, null, 2);
  if (out) writeFileSync(out, json);
  else process.stdout.write(`${json}\n`);
  progress(`case done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  // Hardhat and pooled sockets can keep the loop alive: a finished case exits.
  process.exit(0);
}
