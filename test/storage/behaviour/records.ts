/** RecordStore: records, their unique keys and the compare-and-set of the head. */
import { expect, it } from 'vitest';
import { DuplicateKeyError } from '../../../src/storage/errors.ts';
import type { RecordRow } from '../../../src/storage/rows.ts';
import type { Storage } from '../../../src/storage/storage.ts';
import { merchantRow, recordRow } from '../fixtures.ts';

const byId = (a: RecordRow, b: RecordRow) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Every id `count` long: 'r00000', 'r00001', ... */
const ids = (count: number, prefix = 'r') =>
  Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);

export function recordBehaviour(storage: () => Storage): void {
  it('stores records and reads one back, alone or with its merchant', async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1'));
    const record = recordRow('r1', 'm1', 'ext-1', { secret_salt: '0x01', secret_commitment: '0x02' });
    await s.records.insertMany([record, recordRow('r2', 'm1')]);
    expect(await s.records.get('r1')).toEqual(record);
    expect(await s.records.getWithMerchant('r1')).toEqual({ record, merchant: merchantRow('m1') });
    expect(await s.records.get('r3')).toBeUndefined();
    expect(await s.records.getWithMerchant('r3')).toBeUndefined();
  });

  it("finds the merchant's records by external id, and only that merchant's", async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1'));
    await s.merchants.insert(merchantRow('m2'));
    // An external id is unique per merchant, not across merchants.
    await s.records.insertMany([recordRow('r1', 'm1', 'a'), recordRow('r2', 'm1', 'b')]);
    await s.records.insertMany([recordRow('r3', 'm2', 'a')]);
    const found = await s.records.byExternalIds('m1', ['a', 'b', 'c']);
    expect(found.sort(byId)).toEqual([recordRow('r1', 'm1', 'a'), recordRow('r2', 'm1', 'b')]);
    expect(await s.records.byExternalIds('m2', ['a', 'b'])).toEqual([recordRow('r3', 'm2', 'a')]);
    expect(await s.records.byExternalIds('m1', [])).toEqual([]);
  });

  it('takes more records, and looks up more external ids, than one SQL statement has parameters for', async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1'));
    const many = ids(3000).map((id) => recordRow(id, 'm1'));
    await s.records.insertMany(many);
    // 70,000 ids: past PostgreSQL's 65,535 and SQLite's 32,766 bound parameters.
    const wanted = [...ids(70_000, 'x'), ...many.slice(-5).map((r) => r.external_id)];
    expect((await s.records.byExternalIds('m1', wanted)).sort(byId)).toEqual(many.slice(-5));
    expect(await s.records.byExternalIds('m1', ['ext-r00000'])).toEqual([many[0]]);
  });

  it('writes none of a call too big for one SQL statement when its last row is refused', async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1'));
    await s.records.insertMany([recordRow('taken', 'm1')]);
    const many = [...ids(3000).map((id) => recordRow(id, 'm1')), recordRow('taken', 'm1', 'fresh')];
    await expect(s.records.insertMany(many)).rejects.toBeInstanceOf(DuplicateKeyError);
    expect(await s.records.get('r00000')).toBeUndefined();
    expect(await s.records.byExternalIds('m1', [...ids(3000).map((id) => `ext-${id}`), 'fresh'])).toEqual([]);
  });

  it('refuses a record whose id exists and writes none of that call', async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1'));
    await s.records.insertMany([recordRow('r1', 'm1', 'a')]);
    await expect(
      s.records.insertMany([recordRow('r2', 'm1', 'b'), recordRow('r1', 'm1', 'c')]),
    ).rejects.toBeInstanceOf(DuplicateKeyError);
    expect(await s.records.get('r1')).toEqual(recordRow('r1', 'm1', 'a'));
    expect(await s.records.get('r2')).toBeUndefined();
    expect(await s.records.byExternalIds('m1', ['b', 'c'])).toEqual([]);
  });

  it('refuses a record whose (merchant, external id) exists and writes none of that call', async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1'));
    await s.records.insertMany([recordRow('r1', 'm1', 'a')]);
    await expect(
      s.records.insertMany([recordRow('r2', 'm1', 'b'), recordRow('r3', 'm1', 'a')]),
    ).rejects.toBeInstanceOf(DuplicateKeyError);
    expect(await s.records.get('r2')).toBeUndefined();
    expect(await s.records.get('r3')).toBeUndefined();
    expect(await s.records.byExternalIds('m1', ['a'])).toEqual([recordRow('r1', 'm1', 'a')]);
  });

  it('refuses a call that repeats an id or an external id within itself, writing none of it', async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1'));
    await expect(
      s.records.insertMany([recordRow('r1', 'm1', 'a'), recordRow('r1', 'm1', 'b')]),
    ).rejects.toBeInstanceOf(DuplicateKeyError);
    await expect(
      s.records.insertMany([recordRow('r2', 'm1', 'a'), recordRow('r3', 'm1', 'a')]),
    ).rejects.toBeInstanceOf(DuplicateKeyError);
    for (const id of ['r1', 'r2', 'r3']) expect(await s.records.get(id)).toBeUndefined();
  });

  it('advances the head only from the expected head_seq', async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1'));
    await s.records.insertMany([recordRow('r1', 'm1')]);
    const head = {
      head_seq: 1,
      state: 'active',
      sold: 1,
      activated: 0,
      revealed: 0,
      dispute: 'none',
    } as const;
    expect(await s.records.advanceHead('r1', 0, head)).toBe(true);
    expect(await s.records.get('r1')).toEqual(recordRow('r1', 'm1', undefined, head));

    // A writer that read head_seq 0 lost the race: nothing changes.
    const stale = {
      head_seq: 1,
      state: 'revoked',
      sold: 0,
      activated: 1,
      revealed: 0,
      dispute: 'none',
    } as const;
    expect(await s.records.advanceHead('r1', 0, stale)).toBe(false);
    expect(await s.records.get('r1')).toEqual(recordRow('r1', 'm1', undefined, head));

    const next = {
      head_seq: 2,
      state: 'refunded',
      sold: 1,
      activated: 1,
      revealed: 0,
      dispute: 'none',
    } as const;
    expect(await s.records.advanceHead('r1', 1, next)).toBe(true);
    expect(await s.records.get('r1')).toEqual(recordRow('r1', 'm1', undefined, next));

    expect(await s.records.advanceHead('r9', 0, head)).toBe(false);
    expect(await s.records.get('r9')).toBeUndefined();
  });

  it('lists the salts still stored in the clear, in id order after a given id, a page at a time', async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1'));
    const plain = (n: number) => `0x${String(n).repeat(64).slice(0, 64)}`;
    await s.records.insertMany([
      recordRow('r4', 'm1', 'd', { secret_salt: plain(4), secret_commitment: '0x04' }),
      recordRow('r1', 'm1', 'a', { secret_salt: plain(1), secret_commitment: '0x01' }),
      recordRow('r2', 'm1', 'b', { secret_salt: 'v1.sealed', secret_commitment: '0x02' }),
      recordRow('r3', 'm1', 'c', { secret_salt: null, secret_commitment: '0x03' }),
      recordRow('r5', 'm1', 'e'),
      recordRow('r6', 'm1', 'f', { secret_salt: plain(6), secret_commitment: '0x06' }),
    ]);
    expect(await s.records.plainSalts('', 2)).toEqual([
      { id: 'r1', secret_salt: plain(1) },
      { id: 'r4', secret_salt: plain(4) },
    ]);
    expect(await s.records.plainSalts('r4', 2)).toEqual([{ id: 'r6', secret_salt: plain(6) }]);
    expect(await s.records.plainSalts('r6', 2)).toEqual([]);
  });

  it('replaces a salt only while it is still the one expected', async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1'));
    const salt = `0x${'ab'.repeat(32)}`;
    await s.records.insertMany([
      recordRow('r1', 'm1', 'a', { secret_salt: salt, secret_commitment: '0x01' }),
    ]);
    expect(await s.records.replaceSalt('r1', salt, 'v1.first')).toBe(true);
    expect(await s.records.get('r1')).toEqual(
      recordRow('r1', 'm1', 'a', { secret_salt: 'v1.first', secret_commitment: '0x01' }),
    );
    // A second instance sealing the same salt at the same start lost the race: nothing changes.
    expect(await s.records.replaceSalt('r1', salt, 'v1.second')).toBe(false);
    expect((await s.records.get('r1'))?.secret_salt).toBe('v1.first');
    expect(await s.records.plainSalts('', 10)).toEqual([]);
    expect(await s.records.replaceSalt('r9', salt, 'v1.third')).toBe(false);
  });

  it('purging overwritten data changes nothing the stores return', async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1'));
    const salt = `0x${'cd'.repeat(32)}`;
    await s.records.insertMany([
      recordRow('r1', 'm1', 'a', { secret_salt: salt, secret_commitment: '0x01' }),
    ]);
    await s.records.replaceSalt('r1', salt, 'v1.sealed');
    await s.purgeOverwritten();
    expect((await s.records.get('r1'))?.secret_salt).toBe('v1.sealed');
    expect(await s.merchants.get('m1')).toEqual(merchantRow('m1'));
  });
}
