/** SecretAttemptStore: tries per record and window, taken atomically, given back for right secrets. */
import { expect, it } from 'vitest';
import type { Storage } from '../../../src/storage/storage.ts';
import { at, seedRecords } from '../fixtures.ts';

const LIMIT = 3;
/** A window of 100 s: one that started at or before `now - 100 s` has ended. */
const take = (s: Storage, ids: string[], now: number) =>
  s.secretAttempts.take(ids, at(now), at(now - 100), LIMIT);

export function secretAttemptBehaviour(storage: () => Storage): void {
  it('starts a window at the first try and takes tries up to the limit, then none', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1', 'r2']);
    expect(await s.secretAttempts.get('r1')).toBeUndefined();
    expect(await take(s, ['r1', 'r2'], 10)).toEqual(
      new Map([
        ['r1', { record_id: 'r1', window_start: at(10), failures: 1 }],
        ['r2', { record_id: 'r2', window_start: at(10), failures: 1 }],
      ]),
    );
    expect((await take(s, ['r1'], 20)).get('r1')).toEqual({
      record_id: 'r1',
      window_start: at(10),
      failures: 2,
    });
    expect((await take(s, ['r1'], 30)).get('r1')).toEqual({
      record_id: 'r1',
      window_start: at(10),
      failures: 3,
    });
    // The limit is reached: no try, nothing written; the other record is unaffected.
    expect(await take(s, ['r1', 'r2'], 40)).toEqual(
      new Map([
        ['r1', null],
        ['r2', { record_id: 'r2', window_start: at(10), failures: 2 }],
      ]),
    );
    expect(await s.secretAttempts.get('r1')).toEqual({ record_id: 'r1', window_start: at(10), failures: 3 });
  });

  it('starts a new window once the running one has ended, and not a moment before', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1']);
    for (const now of [0, 1, 2]) await take(s, ['r1'], now);
    expect((await take(s, ['r1'], 99)).get('r1')).toBeNull();
    expect((await take(s, ['r1'], 100)).get('r1')).toEqual({
      record_id: 'r1',
      window_start: at(100),
      failures: 1,
    });
  });

  it('gives a try back only in the window it was taken in, and drops a row left with none', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1']);
    await take(s, ['r1'], 0);
    await take(s, ['r1'], 1);
    await s.secretAttempts.giveBack([{ record_id: 'r1', window_start: at(0) }]);
    expect(await s.secretAttempts.get('r1')).toEqual({ record_id: 'r1', window_start: at(0), failures: 1 });
    // From an ended window: the new one keeps its count.
    await take(s, ['r1'], 200);
    await s.secretAttempts.giveBack([{ record_id: 'r1', window_start: at(0) }]);
    expect(await s.secretAttempts.get('r1')).toEqual({ record_id: 'r1', window_start: at(200), failures: 1 });
    // Every try back: no row is left, and the next try starts a new window.
    await s.secretAttempts.giveBack([
      { record_id: 'r1', window_start: at(200) },
      { record_id: 'r1', window_start: at(200) },
      { record_id: 'r9', window_start: at(200) },
    ]);
    expect(await s.secretAttempts.get('r1')).toBeUndefined();
    await s.secretAttempts.giveBack([]);
    expect((await take(s, ['r1'], 250)).get('r1')).toEqual({
      record_id: 'r1',
      window_start: at(250),
      failures: 1,
    });
  });

  it('never grants more than the limit to racing callers', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1']);
    const results = await Promise.all(Array.from({ length: 20 }, () => take(s, ['r1'], 5)));
    expect(results.filter((r) => r.get('r1') !== null)).toHaveLength(LIMIT);
    expect((await s.secretAttempts.get('r1'))?.failures).toBe(LIMIT);
  });
}
