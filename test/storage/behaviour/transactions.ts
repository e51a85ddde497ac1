/** Storage.transaction: commit, rollback (of every kind of write), and racing writers. */
import { expect, it } from 'vitest';
import { DuplicateKeyError } from '../../../src/storage/errors.ts';
import type { LeaseFence } from '../../../src/storage/rows.ts';
import type { Storage } from '../../../src/storage/storage.ts';
import {
  at,
  batchRow,
  eventRow,
  lead,
  merchantRow,
  NOW_MS,
  recordRow,
  seal,
  seedRecords,
  sighting,
  treeOf,
} from '../fixtures.ts';

class Abort extends Error {}

export function transactionBehaviour(storage: () => Storage): void {
  it("commits everything the work wrote and returns the work's result", async () => {
    const s = storage();
    const result = await s.transaction(async (tx) => {
      await tx.merchants.insert(merchantRow('m1'));
      await tx.records.insertMany([recordRow('r1', 'm1')]);
      await tx.events.insertMany([eventRow('r1', 0)]);
      return 'done';
    });
    expect(result).toBe('done');
    expect(await s.merchants.get('m1')).toEqual(merchantRow('m1'));
    expect(await s.records.get('r1')).toEqual(recordRow('r1', 'm1'));
    expect(await s.events.leafAt('r1', 0)).toBe(eventRow('r1', 0).leaf);
  });

  it('lets the work see its own writes', async () => {
    const s = storage();
    await s.transaction(async (tx) => {
      await seedRecords(tx, 'm1', ['r1']);
      expect(await tx.records.getWithMerchant('r1')).toEqual({
        record: recordRow('r1', 'm1'),
        merchant: merchantRow('m1'),
      });
      expect(await tx.events.unbatched(10)).toEqual({ count: 1, oldestAt: at(0) });
      const id = await tx.batches.nextId();
      const leaves = await tx.events.assignOldestUnbatched(id, 10);
      const tree = treeOf(1);
      await tx.batches.insertSealed(batchRow(id, tree), tree);
      expect(leaves.length).toBe(32);
      expect(await tx.batches.nextId()).toBe(id + 1);
      expect((await tx.events.ofRecord('r1'))[0]?.batch_status).toBe('sealed');
    });
  });

  it('rolls back every write when the work throws, and rejects with what it threw', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1', 'r2']);
    await s.merchants.insertKey({ key_hash: 'k1', merchant_id: 'm1', created_at: at(0), revoked_at: null });
    await s.scans.addSightings([sighting('r1', 1, 's1', 1)]);
    const sealed = (await seal(s, 1))!;
    const fence = await lead(s);
    const before = await snapshot(s, fence);

    const thrown = new Abort('changed my mind');
    await expect(
      s.transaction(async (tx) => {
        await tx.merchants.insert(merchantRow('m2'));
        await tx.merchants.update('m1', { status: 'suspended', suspended_at: at(9) });
        await tx.merchants.addStrike({ merchant_id: 'm1', number: 1, reason: 'r', created_at: at(9) });
        await tx.merchants.addEvidence([
          { merchant_id: 'm1', position: 1, description: 'd', sha256: '00', added_at: at(9) },
        ]);
        await tx.merchants.revokeKeys('m1', at(9));
        await tx.merchants.insertKey({
          key_hash: 'k2',
          merchant_id: 'm1',
          created_at: at(9),
          revoked_at: null,
        });
        await tx.records.insertMany([recordRow('r3', 'm1')]);
        await tx.records.advanceHead('r1', 0, {
          head_seq: 1,
          state: 'revoked',
          sold: 0,
          activated: 0,
          revealed: 0,
          dispute: 'none',
        });
        await tx.events.insertMany([eventRow('r1', 1, at(9))]);
        await tx.merchants.setNameKey('m1', 'renamed');
        await tx.events.replaceContent('r2', 0, '{"erased":true}');
        await tx.scans.addSightings([sighting('r1', 1, 's2', 9), sighting('r2', 1, 's1', 9)]);
        await tx.scans.pruneSightings(2, 10);
        await tx.batches.transition(sealed.id, 'sealed', 'submitted', { tx_hash: '0xaa' }, fence);
        const id = await tx.batches.nextId();
        await tx.events.assignOldestUnbatched(id, 10);
        const tree = treeOf(2);
        await tx.batches.insertSealed(batchRow(id, tree), tree);
        await tx.leases.acquire('other', 'x', 1000, NOW_MS);
        await tx.leases.release(fence);
        throw thrown;
      }),
    ).rejects.toBe(thrown);

    expect(await snapshot(s, fence)).toEqual(before);
    // The pruned sighting is still there (so it is not new), and the added one is gone (so it is).
    expect(await s.scans.addSightings([sighting('r1', 1, 's1', 1), sighting('r1', 1, 's2', 1)])).toBe(1);
    // Neither the release nor the other lease's grant survived.
    expect(await s.leases.acquire('anchorer', 'challenger', 60_000, NOW_MS + 1)).toBeNull();
    expect(await s.leases.acquire('other', 'y', 1000, NOW_MS)).toMatchObject({ holder: 'y' });
  });

  it('rolls back everything when a unique key refuses a write inside, rejecting with DuplicateKeyError', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1']);
    const before = await snapshot(s);
    await expect(
      s.transaction(async (tx) => {
        await tx.merchants.insert(merchantRow('m2'));
        await tx.records.insertMany([recordRow('r2', 'm2')]);
        await tx.records.insertMany([recordRow('r1', 'm1')]);
      }),
    ).rejects.toBeInstanceOf(DuplicateKeyError);
    expect(await snapshot(s)).toEqual(before);
    expect(await s.merchants.get('m2')).toBeUndefined();
  });

  it('fails a seal that took a batch id already used, and leaves its events waiting', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1', 'r2']);
    const first = (await seal(s))!;
    await seedRecords(s, 'm1', ['r3', 'r4'], at(5));
    // A sealer that read nextId before the first seal committed.
    await expect(
      s.transaction(async (tx) => {
        const leaves = await tx.events.assignOldestUnbatched(first.id, 10);
        const tree = treeOf(leaves.length / 32);
        await tx.batches.insertSealed(batchRow(first.id, tree), tree);
      }),
    ).rejects.toBeInstanceOf(DuplicateKeyError);
    expect(await s.batches.get(first.id)).toEqual(first);
    expect(await s.events.unbatched(10)).toEqual({ count: 2, oldestAt: at(5) });
    expect((await s.events.ofRecord('r3'))[0]).toMatchObject({ batch_id: null, leaf_index: null });
  });

  it('never shows a reader outside the writes of a transaction that rolls back', async () => {
    const s = storage();
    let reachedGate!: () => void;
    const reached = new Promise<void>((resolve) => (reachedGate = resolve));
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const writer = s.transaction(async (tx) => {
      await tx.merchants.insert(merchantRow('m1'));
      reachedGate();
      await gate;
      throw new Abort('rolled back');
    });
    await reached;
    const read = s.merchants.get('m1');
    openGate();
    await expect(writer).rejects.toBeInstanceOf(Abort);
    expect(await read).toBeUndefined();
    expect(await s.merchants.get('m1')).toBeUndefined();
  });

  it('lets exactly one of two racing transactions advance the same head', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1']);
    const attempt = (state: 'revoked' | 'refunded') =>
      s.transaction(async (tx) => {
        const advanced = await tx.records.advanceHead('r1', 0, {
          head_seq: 1,
          state,
          sold: 1,
          activated: 0,
          revealed: 0,
          dispute: 'none',
        });
        if (advanced) await tx.events.insertMany([{ ...eventRow('r1', 1), type: state }]);
        return advanced;
      });
    const results = await Promise.all([attempt('revoked'), attempt('refunded')]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const record = await s.records.get('r1');
    const events = await s.events.ofRecord('r1');
    expect(record?.head_seq).toBe(1);
    expect(events.map((e) => e.type)).toEqual(['issued', record?.state]);
  });

  it('lets exactly one of two racing plain calls win a compare-and-set', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1']);
    const tree = treeOf(2);
    await s.batches.insertSealed(batchRow(1, tree), tree);
    const fence = await lead(s);
    const moves = await Promise.all([
      s.batches.transition(1, 'sealed', 'submitted', { tx_hash: '0x01' }, fence),
      s.batches.transition(1, 'sealed', 'submitted', { tx_hash: '0x02' }, fence),
    ]);
    expect(moves.filter(Boolean)).toHaveLength(1);
    const heads = await Promise.all(
      [0, 0, 0].map((_, i) =>
        s.records.advanceHead('r1', 0, {
          head_seq: 1,
          state: 'active',
          sold: i,
          activated: 0,
          revealed: 0,
          dispute: 'none',
        }),
      ),
    );
    expect(heads.filter(Boolean)).toHaveLength(1);
  });
}

/** What the rollback tests compare: every read the stores offer over the rows those tests touch. */
async function snapshot(s: Storage, fence?: LeaseFence): Promise<unknown> {
  return {
    merchants: await Promise.all(['m1', 'm2'].map((id) => s.merchants.get(id))),
    evidence: await s.merchants.evidence('m1'),
    strikes: await s.merchants.strikes('m1'),
    keys: await Promise.all(['k1', 'k2'].map((hash) => s.merchants.byKeyHash(hash))),
    records: await Promise.all(['r1', 'r2', 'r3'].map((id) => s.records.get(id))),
    events: await Promise.all(['r1', 'r2', 'r3'].map((id) => s.events.ofRecord(id))),
    unbatched: await s.events.unbatched(100),
    awaitingFinal: await s.events.countAwaitingFinal(),
    batches: await s.batches.list(0, 100),
    nextId: await s.batches.nextId(),
    scans: await Promise.all(['r1', 'r2'].map((id) => s.scans.get(id))),
    nameKeyHolder: (await s.merchants.byNameKey('merchant m1'))?.id,
    holdsLease: fence && (await s.leases.holds(fence)),
  };
}
