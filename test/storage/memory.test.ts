/**
 * The memory backend: the shared behaviour suite, then what only it has (the failure hooks) and how
 * it serialises concurrent callers.
 */
import { describe, expect, it } from 'vitest';
import { FaultPlan, InjectedStorageFailure } from '../../src/storage/memory/faults.ts';
import { MemoryStorage } from '../../src/storage/memory/memory-storage.ts';
import { DuplicateKeyError } from '../../src/storage/errors.ts';
import { describeStorageBehaviour } from './behaviour.ts';
import { at, batchRow, eventRow, lead, merchantRow, recordRow, seedRecords, treeOf } from './fixtures.ts';

describeStorageBehaviour('memory', async () => new MemoryStorage());

/** A promise and the function that settles it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe('memory storage failure hooks', () => {
  it('before-persist: the call throws and writes nothing; the next call goes through', async () => {
    const s = new MemoryStorage();
    s.faults.failNext('merchants.insert', 'before-persist');
    const failure = await s.merchants.insert(merchantRow('m1')).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(InjectedStorageFailure);
    expect(failure).toMatchObject({ operation: 'merchants.insert', when: 'before-persist' });
    expect(await s.merchants.get('m1')).toBeUndefined();
    await s.merchants.insert(merchantRow('m1'));
    expect(await s.merchants.get('m1')).toEqual(merchantRow('m1'));
  });

  it('after-persist: the write is kept though the caller sees it fail', async () => {
    const s = new MemoryStorage();
    const tree = treeOf(2);
    await s.batches.insertSealed(batchRow(1, tree), tree);
    const fence = await lead(s);
    s.faults.failNext('batches.transition', 'after-persist');
    await expect(s.batches.transition(1, 'sealed', 'submitted', { tx_hash: '0xaa' }, fence)).rejects.toThrow(
      InjectedStorageFailure,
    );
    expect(await s.batches.get(1)).toMatchObject({ status: 'submitted', tx_hash: '0xaa' });
    // Retrying the compare-and-set now reports that the batch already moved.
    expect(await s.batches.transition(1, 'sealed', 'submitted', { tx_hash: '0xaa' }, fence)).toBe(false);
  });

  it('fails reads too, and only the operation armed', async () => {
    const s = new MemoryStorage();
    await seedRecords(s, 'm1', ['r1']);
    s.faults.failNext('records.get', 'before-persist');
    expect(await s.records.getWithMerchant('r1')).toBeDefined();
    await expect(s.records.get('r1')).rejects.toThrow(InjectedStorageFailure);
    expect(await s.records.get('r1')).toBeDefined();
  });

  it('queues failures armed more than once, and shows and clears what is armed', async () => {
    const s = new MemoryStorage();
    s.faults.failNext('events.insertMany', 'before-persist');
    s.faults.failNext('events.insertMany', 'after-persist');
    s.faults.failNext('commit', 'before-persist');
    expect(s.faults.pending()).toEqual(
      new Map([
        ['events.insertMany', ['before-persist', 'after-persist']],
        ['commit', ['before-persist']],
      ]),
    );
    await s.merchants.insert(merchantRow('m1'));
    await s.records.insertMany([recordRow('r1', 'm1')]);
    await expect(s.events.insertMany([eventRow('r1', 0)])).rejects.toMatchObject({ when: 'before-persist' });
    expect(await s.events.leafAt('r1', 0)).toBeUndefined();
    await expect(s.events.insertMany([eventRow('r1', 0)])).rejects.toMatchObject({ when: 'after-persist' });
    expect(await s.events.leafAt('r1', 0)).toBe(eventRow('r1', 0).leaf);
    s.faults.clear();
    expect(s.faults.pending().size).toBe(0);
    await s.transaction(async (tx) => tx.merchants.insert(merchantRow('m2')));
    expect(await s.merchants.get('m2')).toBeDefined();
  });

  it('commit before-persist: the transaction rejects and nothing it wrote is kept', async () => {
    const s = new MemoryStorage();
    s.faults.failNext('commit', 'before-persist');
    let ran = false;
    await expect(
      s.transaction(async (tx) => {
        await seedRecords(tx, 'm1', ['r1']);
        ran = true;
      }),
    ).rejects.toMatchObject({ operation: 'commit', when: 'before-persist' });
    expect(ran).toBe(true);
    expect(await s.merchants.get('m1')).toBeUndefined();
    expect(await s.events.unbatched(10)).toEqual({ count: 0, oldestAt: null });
  });

  it('commit after-persist: the transaction rejects and everything it wrote is kept', async () => {
    const s = new MemoryStorage();
    s.faults.failNext('commit', 'after-persist');
    await expect(s.transaction(async (tx) => seedRecords(tx, 'm1', ['r1']))).rejects.toThrow(
      InjectedStorageFailure,
    );
    expect(await s.records.get('r1')).toEqual(recordRow('r1', 'm1'));
    expect(await s.events.unbatched(10)).toEqual({ count: 1, oldestAt: at(0) });
  });

  it('a call failed inside a transaction aborts it, whichever side of persisting it failed', async () => {
    for (const when of ['before-persist', 'after-persist'] as const) {
      const s = new MemoryStorage();
      s.faults.failNext('records.insertMany', when);
      await expect(s.transaction(async (tx) => seedRecords(tx, 'm1', ['r1']))).rejects.toMatchObject({
        operation: 'records.insertMany',
        when,
      });
      expect(await s.merchants.get('m1')).toBeUndefined();
      expect(await s.records.get('r1')).toBeUndefined();
    }
  });

  it('a transaction whose work swallowed a failed call still rejects, and refuses calls after it', async () => {
    const s = new MemoryStorage();
    await s.merchants.insert(merchantRow('m1'));
    let later: unknown;
    await expect(
      s.transaction(async (tx) => {
        await tx.merchants.insert(merchantRow('m1')).catch(() => {});
        later = await tx.merchants.insert(merchantRow('m2')).catch((err: unknown) => err);
        return 'carried on';
      }),
    ).rejects.toBeInstanceOf(DuplicateKeyError);
    expect(later).toBeInstanceOf(Error);
    expect(await s.merchants.get('m2')).toBeUndefined();
  });

  it('arms by operation name, checked by the compiler', () => {
    const plan = new FaultPlan();
    plan.failNext('leases.acquire', 'before-persist');
    // @ts-expect-error: not a store method
    plan.failNext('leases.steal', 'before-persist');
    expect(plan.take('leases.acquire')).toBe('before-persist');
    expect(plan.take('leases.acquire')).toBeUndefined();
  });
});

describe('memory storage under concurrent callers', () => {
  it('runs one transaction at a time, so read-then-write transactions never lose an update', async () => {
    const s = new MemoryStorage();
    await seedRecords(s, 'm1', ['r1']);
    let running = 0;
    let mostAtOnce = 0;
    const increment = () =>
      s.transaction(async (tx) => {
        mostAtOnce = Math.max(mostAtOnce, ++running);
        const record = (await tx.records.get('r1'))!;
        await new Promise((resolve) => setTimeout(resolve, 0));
        const moved = await tx.records.advanceHead('r1', record.head_seq, {
          ...record,
          head_seq: record.head_seq + 1,
        });
        running--;
        return moved;
      });
    const results = await Promise.all(Array.from({ length: 20 }, increment));
    expect(results.every(Boolean)).toBe(true);
    expect(mostAtOnce).toBe(1);
    expect((await s.records.get('r1'))?.head_seq).toBe(20);
  });

  it('makes a plain call wait for the running transaction, then see what it committed', async () => {
    const s = new MemoryStorage();
    const inside = gate();
    const release = gate();
    const writer = s.transaction(async (tx) => {
      await tx.merchants.insert(merchantRow('m1'));
      inside.open();
      await release.opened;
      await tx.merchants.update('m1', { status: 'suspended' });
    });
    await inside.opened;
    let readDone = false;
    const read = s.merchants.get('m1').finally(() => (readDone = true));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(readDone).toBe(false);
    release.open();
    await writer;
    expect(await read).toEqual(merchantRow('m1', { status: 'suspended' }));
  });

  it('rejects a call on the storage itself from inside a transaction instead of waiting forever', async () => {
    const s = new MemoryStorage();
    await expect(s.transaction(async () => s.merchants.get('m1'))).rejects.toThrow(/inside a transaction/);
    await expect(s.transaction(async () => s.transaction(async () => 1))).rejects.toThrow(
      /inside a transaction/,
    );
    expect(await s.merchants.get('m1')).toBeUndefined();
  });

  it("rejects a transaction's stores once it has ended", async () => {
    const s = new MemoryStorage();
    const leaked = await s.transaction(async (tx) => tx);
    await expect(leaked.merchants.insert(merchantRow('m1'))).rejects.toThrow(/has ended/);
    expect(await s.merchants.get('m1')).toBeUndefined();
  });

  it('closes after the work queued before it, and refuses calls after', async () => {
    const s = new MemoryStorage();
    const release = gate();
    const writer = s.transaction(async (tx) => {
      await release.opened;
      await tx.merchants.insert(merchantRow('m1'));
    });
    const closed = s.close();
    release.open();
    await writer;
    await closed;
    await expect(s.merchants.get('m1')).rejects.toThrow(/closed/);
  });

  it('keeps a 1,000-record transaction cheap to commit and to roll back', async () => {
    const s = new MemoryStorage();
    await s.merchants.insert(merchantRow('m1'));
    const ids = Array.from({ length: 1000 }, (_, i) => `r${String(i).padStart(4, '0')}`);
    const write = (tx: Parameters<Parameters<MemoryStorage['transaction']>[0]>[0]) =>
      Promise.all([
        tx.records.insertMany(ids.map((id) => recordRow(id, 'm1'))),
        tx.events.insertMany(ids.map((id) => eventRow(id, 0))),
      ]);

    let started = performance.now();
    await expect(
      s.transaction(async (tx) => {
        await write(tx);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    const rolledBackMs = performance.now() - started;
    expect(await s.events.unbatched(10_000)).toEqual({ count: 0, oldestAt: null });

    started = performance.now();
    await s.transaction(write);
    const committedMs = performance.now() - started;
    expect(await s.events.unbatched(10_000)).toEqual({ count: 1000, oldestAt: at(0) });
    // A few milliseconds each when measured; the bound is loose for a busy machine and only catches
    // a cost that grew by orders (a copy of all state per transaction, a quadratic undo).
    expect(rolledBackMs).toBeLessThan(500);
    expect(committedMs).toBeLessThan(500);
  });
});
