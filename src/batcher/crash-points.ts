/**
 * Named points between "committed locally" and "published" at which the crash tests kill the
 * process for real: with PROOFMARK_TEST_CRASH_AT=<point>, reaching the point sends SIGKILL to this
 * process, so nothing after it runs (no finally block, no log flush, no shutdown hook). Unset, as in
 * production, a point costs one string comparison. docs/guarantees.md lists what each point proves.
 */
export const CRASH_POINTS = [
  /** A batch is sealed and committed; nothing is signed or sent. */
  'after-seal',
  /** The signed anchor transaction is saved (submitted); it has not been broadcast. */
  'after-sign',
  /** The transaction was broadcast (and, on an automining chain, mined); nothing more is saved. */
  'after-broadcast',
  /** Its receipt was seen; the batch is not yet saved as anchored. */
  'after-mined',
  /** The batch is saved as anchored; it is not yet final. */
  'after-anchored',
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

const armed = process.env.PROOFMARK_TEST_CRASH_AT;
if (armed && !(CRASH_POINTS as readonly string[]).includes(armed)) {
  throw new Error(`PROOFMARK_TEST_CRASH_AT must be one of ${CRASH_POINTS.join(', ')}, not "${armed}"`);
}

export function crashPoint(point: CrashPoint): void {
  if (armed === point) process.kill(process.pid, 'SIGKILL');
}
