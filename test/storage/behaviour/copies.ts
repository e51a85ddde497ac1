/** Rows cross the storage boundary as copies: changing one, either way, changes nothing stored. */
import { expect, it } from 'vitest';
import { bytesToHex } from '../../../src/core/index.ts';
import type { Storage } from '../../../src/storage/storage.ts';
import {
  at,
  batchRow,
  eventRow,
  merchantRow,
  recordRow,
  seal,
  seedRecords,
  sighting,
  treeOf,
} from '../fixtures.ts';

export function copyBehaviour(storage: () => Storage): void {
  it('keeps what was stored when the rows handed in are changed afterwards', async () => {
    const s = storage();
    const merchant = merchantRow('m1');
    const record = recordRow('r1', 'm1');
    const event = eventRow('r1', 0);
    const evidence = { merchant_id: 'm1', position: 1, description: 'd', sha256: '00', added_at: at(1) };
    const strike = { merchant_id: 'm1', number: 1, reason: 'r', created_at: at(1) };
    const key = { key_hash: 'k1', merchant_id: 'm1', created_at: at(1), revoked_at: null };
    const scan = sighting('r1', 1, 's1', 1);
    await s.merchants.insert(merchant);
    await s.merchants.addEvidence([evidence]);
    await s.merchants.addStrike(strike);
    await s.merchants.insertKey(key);
    await s.records.insertMany([record]);
    await s.events.insertMany([event]);
    await s.scans.addSightings([scan]);
    const tree = treeOf(3);
    const batch = batchRow(1, tree);
    await s.batches.insertSealed(batch, tree);
    const leavesBefore = bytesToHex(tree.levels[0]!);

    merchant.name = 'changed';
    record.head_seq = 9;
    event.leaf = '0x00';
    evidence.description = 'changed';
    strike.reason = 'changed';
    key.merchant_id = 'nobody';
    scan.scanner = 'changed';
    batch.status = 'final';
    tree.levels[0]!.fill(0);

    expect(await s.merchants.get('m1')).toEqual(merchantRow('m1'));
    expect((await s.merchants.evidence('m1'))[0]?.description).toBe('d');
    expect((await s.merchants.strikes('m1'))[0]?.reason).toBe('r');
    expect((await s.merchants.byKeyHash('k1'))?.merchant.id).toBe('m1');
    expect(await s.records.get('r1')).toEqual(recordRow('r1', 'm1'));
    expect(await s.events.leafAt('r1', 0)).toBe(eventRow('r1', 0).leaf);
    expect((await s.scans.get('r1'))?.count).toBe(1);
    expect((await s.batches.get(1))?.status).toBe('sealed');
    expect(bytesToHex(await s.batches.leaves(1))).toBe(leavesBefore);
  });

  it('keeps what is stored when the rows it returned are changed', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1']);
    await s.merchants.insertKey({ key_hash: 'k1', merchant_id: 'm1', created_at: at(1), revoked_at: null });
    await s.scans.addSightings([sighting('r1', 1, 's1', 1)]);
    await seal(s);

    (await s.merchants.get('m1'))!.name = 'changed';
    (await s.merchants.byKeyHash('k1'))!.merchant.name = 'changed';
    (await s.records.get('r1'))!.head_seq = 9;
    (await s.records.getWithMerchant('r1'))!.record.state = 'revoked';
    (await s.records.byExternalIds('m1', ['ext-r1']))[0]!.sku = 'changed';
    (await s.events.ofRecord('r1'))[0]!.leaf = '0x00';
    (await s.scans.get('r1'))!.count = 99;
    (await s.batches.get(1))!.status = 'final';
    (await s.batches.list(0, 10))[0]!.root = '0x00';
    (await s.batches.unfinished())[0]!.leaf_count = 99;
    (await s.batches.leaves(1)).fill(0);
    (await s.batches.nodes(1, [{ level: 0, index: 0 }]))[0]!.fill(0);

    expect(await s.merchants.get('m1')).toEqual(merchantRow('m1'));
    expect(await s.records.get('r1')).toEqual(recordRow('r1', 'm1'));
    expect((await s.events.ofRecord('r1'))[0]?.leaf).toBe(eventRow('r1', 0).leaf);
    expect((await s.scans.get('r1'))?.count).toBe(1);
    const stored = await s.batches.get(1);
    expect(stored).toMatchObject({ status: 'sealed', leaf_count: 1, root: eventRow('r1', 0).leaf });
    expect(bytesToHex(await s.batches.leaves(1))).toBe(eventRow('r1', 0).leaf);
    expect(bytesToHex((await s.batches.nodes(1, [{ level: 0, index: 0 }]))[0]!)).toBe(eventRow('r1', 0).leaf);
  });
}
