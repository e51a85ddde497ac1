/**
 * What every case shares: its options, how it states a target, how it runs on its own, and how it
 * shows in the report.
 */
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

/**
 * How a case shows in bench/results.md. Each case exports its own; bench/run.ts lists them, and
 * bench/lib/report.ts knows only this shape.
 */
export interface CaseReport<R> {
  /** The section's heading, numbered by the case's place in the suite ("Tree build"). */
  title: string;
  /** The section under the heading: tables and notes from the case's result. */
  section(result: R): string;
  /** Words that follow the figure in the plain-words line of one of the case's targets, or ''. */
  targetExtra?(target: Target, result: R): string;
  /** Ids of the case's targets that report a figure with no pass mark (their `pass` is always null). */
  reportedTargets?: readonly string[];
}

/** A case of the suite: bench/cases/<id>.ts measures it in a child process; `report` renders its result. */
export interface BenchCase {
  id: string;
  report: CaseReport<never>;
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
