/**
 * Work done in steps so that the event loop keeps turning (a seal in steps: sealing.ts and its
 * directory, directory.ts): each step sized by the stall the one before it caused.
 */

/**
 * How long one step may stall the event loop: well inside the 50 ms an API request may be delayed.
 * Steps are sized by the stall each one caused (measureStall), not by its wall time: on SQLite a
 * step's statements run on the event loop, so it stalls it for as long as it takes; on PostgreSQL
 * the loop turns while the server works, so steps grow (up to their bound) and a large seal takes
 * fewer round trips.
 */
export const STEP_TARGET_MS = 20;

/**
 * Runs `work` and measures how long the event loop could not turn from its start: on SQLite the
 * whole step (its statements run synchronously), on PostgreSQL only until the query is sent. The
 * loop has turned at the first timer or immediate callback, whichever runs first: a timer runs
 * before the loop polls for I/O, so the requests the loop then serves (under load, many) do not
 * count as this step's stall and shrink the steps.
 */
export async function measureStall<T>(work: () => Promise<T>): Promise<{ result: T; stalledMs: number }> {
  const started = performance.now();
  const turned = new Promise<number>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      clearImmediate(immediate);
      resolve(performance.now() - started);
    };
    const timer = setTimeout(done, 0);
    const immediate = setImmediate(done);
  });
  const result = await work();
  return { result, stalledMs: await turned };
}

/**
 * The next step's size: scaled towards STEP_TARGET_MS by the stall this one caused, at most doubled,
 * within `min`..`max`.
 */
export function nextStepSize(step: number, stalledMs: number, min: number, max: number): number {
  const scaled = step * Math.min(2, STEP_TARGET_MS / Math.max(stalledMs, 1));
  return Math.round(Math.min(max, Math.max(min, scaled)));
}
