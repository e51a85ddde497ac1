/**
 * Named points between "committed locally" and "published" at which the crash tests kill the
 * process for real: with PROOFMARK_TEST_CRASH_AT=<point>, reaching the point sends SIGKILL to this
 * process, so nothing after it runs (no finally block, no log flush, no shutdown hook); with
 * <point>:<n>, the n-th time it is reached (several batches in flight). Unset, as in production, a
 * point costs one string comparison. docs/guarantees.md lists what each point proves.
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

const armed = parse(process.env.PROOFMARK_TEST_CRASH_AT);
let reached = 0;

function parse(value: string | undefined): { point: string; nth: number } | null {
  if (!value) return null;
  const [point, nth = '1'] = value.split(':');
  if (!(CRASH_POINTS as readonly string[]).includes(point!) || !/^[1-9]\d*$/.test(nth)) {
    throw new Error(
      `PROOFMARK_TEST_CRASH_AT must be one of ${CRASH_POINTS.join(', ')}, optionally followed by :<n>, not "${value}"`,
    );
  }
  return { point: point!, nth: Number(nth) };
}

export function crashPoint(point: CrashPoint): void {
  if (armed?.point === point && ++reached === armed.nth) process.kill(process.pid, 'SIGKILL');
}
