/** UniqueKeyStore: a key held once among live rows; ended rows free it; the refusal log. */
import { expect, it } from 'vitest';
import { DuplicateKeyError } from '../../../src/storage/errors.ts';
import type { DuplicateRefusalRow, UniqueKeyRow } from '../../../src/storage/rows.ts';
import type { Storage } from '../../../src/storage/storage.ts';
import { at, seedRecords } from '../fixtures.ts';

const keyRow = (key: string, recordId: string, change: Partial<UniqueKeyRow> = {}): UniqueKeyRow => ({
  key,
  type: 'secret',
  record_id: recordId,
  merchant_id: 'm1',
  ended: 0,
  reissue_of: null,
  created_at: at(0),
  ...change,
});

const refusal = (id: string, merchantId: string, seconds: number): DuplicateRefusalRow => ({
  id,
  at: at(seconds),
  merchant_id: merchantId,
  type: 'secret',
  existing_record_id: 'r1',
  existing_merchant_id: 'm1',
  external_id: `ext-${id}`,
});

export function uniqueKeyBehaviour(storage: () => Storage): void {
  it('holds a live key once: a second live holder, or one key twice in a call, writes nothing', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1', 'r2', 'r3']);
    await s.uniqueKeys.insertMany([keyRow('k1', 'r1'), keyRow('s1', 'r1', { type: 'serial' })]);
    await expect(s.uniqueKeys.insertMany([keyRow('k2', 'r2'), keyRow('k1', 'r2')])).rejects.toThrow(
      DuplicateKeyError,
    );
    await expect(s.uniqueKeys.insertMany([keyRow('k3', 'r2'), keyRow('k3', 'r3')])).rejects.toThrow(
      DuplicateKeyError,
    );
    expect(await s.uniqueKeys.holders(['k1', 'k2', 'k3', 's1'])).toHaveLength(2);
    expect(await s.uniqueKeys.ofRecord('r2')).toEqual([]);
    expect((await s.uniqueKeys.ofRecord('r1')).map((r) => r.key).sort()).toEqual(['k1', 's1']);
  });

  it('frees the keys of a record that ended, keeping its rows to say who held them', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1', 'r2', 'r3']);
    await s.uniqueKeys.insertMany([keyRow('k1', 'r1')]);
    await s.uniqueKeys.endRecord('r1');
    await s.uniqueKeys.insertMany([keyRow('k1', 'r2', { reissue_of: 'r1' })]);
    await expect(s.uniqueKeys.insertMany([keyRow('k1', 'r3')])).rejects.toThrow(DuplicateKeyError);
    const holders = await s.uniqueKeys.holders(['k1']);
    expect(holders.sort((a, b) => (a.record_id < b.record_id ? -1 : 1))).toEqual([
      keyRow('k1', 'r1', { ended: 1 }),
      keyRow('k1', 'r2', { reissue_of: 'r1' }),
    ]);
    // Ending twice changes nothing; a record without rows is no error.
    await s.uniqueKeys.endRecord('r1');
    await s.uniqueKeys.endRecord('r3');
    expect(await s.uniqueKeys.holders(['k1'])).toHaveLength(2);
  });

  it('a transaction that fails after inserting keys leaves them free', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1', 'r2']);
    await expect(
      s.transaction(async (tx) => {
        await tx.uniqueKeys.insertMany([keyRow('k1', 'r1')]);
        throw new Error('abandon');
      }),
    ).rejects.toThrow('abandon');
    await s.uniqueKeys.insertMany([keyRow('k1', 'r2')]);
    expect((await s.uniqueKeys.holders(['k1'])).map((r) => r.record_id)).toEqual(['r2']);
  });

  it('logs refusals and lists them newest first, per merchant or all', async () => {
    const s = storage();
    await s.uniqueKeys.logRefusals([refusal('a', 'm1', 1), refusal('b', 'm2', 2)]);
    await s.uniqueKeys.logRefusals([refusal('c', 'm1', 3)]);
    await expect(s.uniqueKeys.logRefusals([refusal('a', 'm1', 4)])).rejects.toThrow(DuplicateKeyError);
    expect((await s.uniqueKeys.refusals(null, 10)).map((r) => r.id)).toEqual(['c', 'b', 'a']);
    expect(await s.uniqueKeys.refusals('m1', 1)).toEqual([refusal('c', 'm1', 3)]);
    expect(await s.uniqueKeys.refusals('m3', 10)).toEqual([]);
  });
}
