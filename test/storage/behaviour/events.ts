/** EventStore: events, the queue of unbatched ones and how sealing takes from it. */
import { expect, it } from 'vitest';
import { bytesToHex, NODE_SIZE } from '../../../src/core/index.ts';
import { DuplicateKeyError } from '../../../src/storage/errors.ts';
import type { EventRow } from '../../../src/storage/rows.ts';
import type { Storage } from '../../../src/storage/storage.ts';
import { at, eventRow, lead, merchantRow, recordRow, seal, seedRecords } from '../fixtures.ts';

/** The leaves packed 32 bytes each, as hex per leaf. */
function unpack(packed: Uint8Array): string[] {
  expect(packed.length % NODE_SIZE).toBe(0);
  const out: string[] = [];
  for (let i = 0; i < packed.length; i += NODE_SIZE) out.push(bytesToHex(packed.subarray(i, i + NODE_SIZE)));
  return out;
}

const unbatchedFields = {
  batch_status: null,
  tx_hash: null,
  block_number: null,
  root: null,
  batch_leaf_count: null,
  chain_root: null,
};

export function eventBehaviour(storage: () => Storage): void {
  it("stores events and reads each one's leaf; an unknown event has none", async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1']);
    await s.events.insertMany([eventRow('r1', 1, at(5)), eventRow('r1', 2, at(6))]);
    expect(await s.events.leafAt('r1', 0)).toBe(eventRow('r1', 0).leaf);
    expect(await s.events.leafAt('r1', 2)).toBe(eventRow('r1', 2).leaf);
    expect(await s.events.leafAt('r1', 3)).toBeUndefined();
    expect(await s.events.leafAt('r2', 0)).toBeUndefined();
  });

  it("lists a record's events in seq order, with null batch fields while unbatched", async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1', 'r2']);
    await s.events.insertMany([eventRow('r1', 2, at(2)), eventRow('r1', 1, at(1))]);
    expect(await s.events.ofRecord('r1')).toEqual(
      [0, 1, 2].map((seq) => ({ ...eventRow('r1', seq, at(seq)), ...unbatchedFields })),
    );
    expect(await s.events.ofRecord('r9')).toEqual([]);
  });

  it("reads a range of a record's events by seq, in seq order, with their batch state", async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1', 'r2']);
    await s.events.insertMany([1, 2, 3, 4].map((seq) => eventRow('r1', seq, at(seq))));
    const rows = (seqs: number[]) =>
      seqs.map((seq) => ({ ...eventRow('r1', seq, at(seq)), ...unbatchedFields }));
    expect(await s.events.ofRecordRange('r1', 0, 0)).toEqual(rows([0]));
    expect(await s.events.ofRecordRange('r1', 2, 3)).toEqual(rows([2, 3]));
    // Bounds past either end hold what exists; an empty or unknown range holds nothing.
    expect(await s.events.ofRecordRange('r1', 3, 99)).toEqual(rows([3, 4]));
    expect(await s.events.ofRecordRange('r1', 5, 9)).toEqual([]);
    expect(await s.events.ofRecordRange('r1', 3, 2)).toEqual([]);
    expect(await s.events.ofRecordRange('r9', 0, 9)).toEqual([]);

    const batch = (await seal(s, 1))!;
    const [issuance] = await s.events.ofRecordRange('r1', 0, 0);
    expect(issuance).toMatchObject({
      batch_id: batch.id,
      leaf_index: 0,
      batch_status: 'sealed',
      root: batch.root,
    });
  });

  it("shows each event's batch state once it is batched", async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1']);
    const batch = (await seal(s))!;
    await s.events.insertMany([eventRow('r1', 1, at(1))]);
    const fence = await lead(s);
    const anchored = { tx_hash: '0xaa', block_number: 7, block_hash: '0xbb', anchored_at: at(200) };
    expect(await s.batches.transition(batch.id, 'sealed', 'anchored', anchored, fence)).toBe(true);
    expect(await s.batches.transition(batch.id, 'anchored', 'final', { chain_root: batch.root }, fence)).toBe(
      true,
    );
    expect(await s.events.ofRecord('r1')).toEqual([
      {
        ...eventRow('r1', 0),
        batch_id: batch.id,
        leaf_index: 0,
        batch_status: 'final',
        tx_hash: '0xaa',
        block_number: 7,
        root: batch.root,
        batch_leaf_count: 1,
        chain_root: batch.root,
      },
      { ...eventRow('r1', 1, at(1)), ...unbatchedFields },
    ]);
  });

  it("replaces an event's content and nothing else, batched or not; an unknown event is false", async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1']);
    const batch = (await seal(s))!;
    await s.events.insertMany([eventRow('r1', 1, at(1))]);
    expect(await s.events.replaceContent('r1', 0, '{"erased":0}')).toBe(true);
    expect(await s.events.replaceContent('r1', 1, '{"erased":1}')).toBe(true);
    expect(await s.events.replaceContent('r1', 2, '{}')).toBe(false);
    expect(await s.events.replaceContent('r9', 0, '{}')).toBe(false);
    const [issuance, sold] = await s.events.ofRecord('r1');
    expect(issuance).toMatchObject({
      ...eventRow('r1', 0),
      content: '{"erased":0}',
      batch_id: batch.id,
      leaf_index: 0,
      batch_status: 'sealed',
    });
    expect(sold).toEqual({ ...eventRow('r1', 1, at(1)), content: '{"erased":1}', ...unbatchedFields });
    expect(await s.events.leafAt('r1', 1)).toBe(eventRow('r1', 1).leaf);
    // Still waiting to be sealed, with its leaf.
    const next = (await seal(s))!;
    expect(unpack(await s.batches.leaves(next.id))).toEqual([eventRow('r1', 1).leaf]);
  });

  it('refuses an event whose (record, seq) exists and writes none of that call', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1']);
    const racing: EventRow = { ...eventRow('r1', 1), content: '{"racing":true}' };
    await s.events.insertMany([eventRow('r1', 1)]);
    await expect(s.events.insertMany([eventRow('r1', 2), racing])).rejects.toBeInstanceOf(DuplicateKeyError);
    await expect(s.events.insertMany([eventRow('r1', 3), eventRow('r1', 3)])).rejects.toBeInstanceOf(
      DuplicateKeyError,
    );
    expect((await s.events.ofRecord('r1')).map((e) => [e.seq, e.content])).toEqual([
      [0, eventRow('r1', 0).content],
      [1, eventRow('r1', 1).content],
    ]);
  });

  it('counts unbatched events up to the cap asked for, and knows when the oldest was created', async () => {
    const s = storage();
    expect(await s.events.unbatched(10)).toEqual({ count: 0, oldestAt: null });
    await seedRecords(s, 'm1', ['r1', 'r2', 'r3'], at(20));
    await s.events.insertMany([eventRow('r1', 1, at(30)), eventRow('r2', 1, at(10))]);
    expect(await s.events.unbatched(3)).toEqual({ count: 3, oldestAt: at(10) });
    expect(await s.events.unbatched(5)).toEqual({ count: 5, oldestAt: at(10) });
    expect(await s.events.unbatched(100)).toEqual({ count: 5, oldestAt: at(10) });
    await seal(s, 2);
    expect(await s.events.unbatched(100)).toEqual({ count: 3, oldestAt: at(20) });
  });

  it('batches the oldest events by created_at, then record id, then seq, as many as asked', async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1'));
    await s.records.insertMany(['ra', 'rb', 'rc'].map((id) => recordRow(id, 'm1')));
    // Inserted in no useful order; the queue order comes from the rows alone.
    await s.events.insertMany([
      eventRow('rb', 0, at(5)),
      eventRow('ra', 1, at(5)),
      eventRow('rc', 0, at(9)),
      eventRow('ra', 0, at(5)),
      eventRow('rc', 1, at(1)),
    ]);
    // rc/1 is older than rc/0: seq breaks ties only.
    const queue = [
      eventRow('rc', 1),
      eventRow('ra', 0),
      eventRow('ra', 1),
      eventRow('rb', 0),
      eventRow('rc', 0),
    ];

    expect(unpack(await s.events.assignOldestUnbatched(1, 2))).toEqual(queue.slice(0, 2).map((e) => e.leaf));
    expect(unpack(await s.events.assignOldestUnbatched(2, 10))).toEqual(queue.slice(2).map((e) => e.leaf));
    expect((await s.events.assignOldestUnbatched(3, 10)).length).toBe(0);

    const placed = async (recordId: string) =>
      (await s.events.ofRecord(recordId)).map((e) => [e.seq, e.batch_id, e.leaf_index]);
    expect(await placed('rc')).toEqual([
      [0, 2, 2],
      [1, 1, 0],
    ]);
    expect(await placed('ra')).toEqual([
      [0, 1, 1],
      [1, 2, 0],
    ]);
    expect(await placed('rb')).toEqual([[0, 2, 1]]);
    expect(await s.events.unbatched(10)).toEqual({ count: 0, oldestAt: null });
  });

  it("lists a batch's events in leaf order, with what the directory needs of each", async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['ra', 'rb'], at(5));
    await s.events.insertMany([eventRow('ra', 1, at(1)), eventRow('rb', 1, at(9))]);
    await seal(s, 2);
    const second = (await seal(s, 10))!;
    const narrow = (e: EventRow) => ({ record_id: e.record_id, seq: e.seq, type: e.type, leaf: e.leaf });
    // ra/1 (at 1) is the oldest; then ra/0, rb/0 (at 5); rb/1 (at 9) waits for the second batch.
    expect(await s.events.ofBatch(1)).toEqual([eventRow('ra', 1), eventRow('ra', 0)].map(narrow));
    expect(await s.events.ofBatch(second.id)).toEqual([eventRow('rb', 0), eventRow('rb', 1)].map(narrow));
    expect(await s.events.ofBatch(99)).toEqual([]);
  });

  it("reports the status of the batch holding each record's issuance", async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1', 'r2']);
    const first = (await seal(s, 1))!;
    await seedRecords(s, 'm1', ['r3']);
    // r1's later event is unbatched: only seq 0 counts.
    await s.events.insertMany([eventRow('r1', 1, at(1))]);
    await s.batches.transition(first.id, 'sealed', 'submitted', { tx_hash: '0x01' }, await lead(s));
    const second = (await seal(s, 1))!;

    const statuses = await s.events.issuanceStatuses(['r1', 'r2', 'r3']);
    expect(statuses.get('r1')).toBe('submitted');
    expect(statuses.get('r2')).toBe('sealed');
    expect(statuses.get('r3')).toBeNull();
    expect(statuses.has('r3')).toBe(true);
    expect(second.id).toBe(first.id + 1);
  });

  it('counts the events awaiting a final batch: unbatched ones plus unfinished batches', async () => {
    const s = storage();
    expect(await s.events.countAwaitingFinal()).toBe(0);
    await seedRecords(s, 'm1', ['r1', 'r2', 'r3', 'r4']);
    const first = (await seal(s, 2))!;
    const second = (await seal(s, 1))!;
    expect(await s.events.countAwaitingFinal()).toBe(4);

    const fence = await lead(s);
    for (const [from, to] of [
      ['sealed', 'submitted'],
      ['submitted', 'anchored'],
      ['anchored', 'final'],
    ] as const) {
      expect(await s.batches.transition(first.id, from, to, {}, fence)).toBe(true);
    }
    expect(await s.events.countAwaitingFinal()).toBe(2);
    expect(await s.batches.transition(second.id, 'sealed', 'final', {}, fence)).toBe(true);
    expect(await s.events.countAwaitingFinal()).toBe(1);
  });

  it('counts the same events per merchant of their records, adding up to the total', async () => {
    const s = storage();
    expect(await s.events.awaitingFinalByMerchant()).toEqual(new Map());
    await seedRecords(s, 'm1', ['r1', 'r2']);
    await seedRecords(s, 'm2', ['r3']);
    const first = (await seal(s, 2))!;
    await s.events.insertMany([eventRow('r1', 1, at(1)), eventRow('r3', 1, at(1))]);
    expect(await s.events.awaitingFinalByMerchant()).toEqual(
      new Map([
        ['m1', 3],
        ['m2', 2],
      ]),
    );
    expect(await s.events.countAwaitingFinal()).toBe(5);

    const fence = await lead(s);
    expect(await s.batches.transition(first.id, 'sealed', 'final', {}, fence)).toBe(true);
    expect(await s.events.awaitingFinalByMerchant()).toEqual(
      new Map([
        ['m1', 1],
        ['m2', 2],
      ]),
    );
    const second = (await seal(s))!;
    expect(await s.batches.transition(second.id, 'sealed', 'anchored', {}, fence)).toBe(true);
    expect(await s.events.awaitingFinalByMerchant()).toEqual(
      new Map([
        ['m1', 1],
        ['m2', 2],
      ]),
    );
    expect(await s.batches.transition(second.id, 'anchored', 'final', {}, fence)).toBe(true);
    expect(await s.events.awaitingFinalByMerchant()).toEqual(new Map());
  });
}
