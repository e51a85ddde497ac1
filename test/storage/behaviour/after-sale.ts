/** AfterSaleStore: sealed deliveries (reveal once, secrets purged at expiry), disputes and their files. */
import { expect, it } from 'vitest';
import { DuplicateKeyError } from '../../../src/storage/errors.ts';
import type { DisputeRow, SealedDeliveryRow } from '../../../src/storage/rows.ts';
import type { Storage } from '../../../src/storage/storage.ts';
import { at, hash, seedRecords } from '../fixtures.ts';

const sealed = (recordId: string, expires: number, token = hash(`token ${recordId}`)): SealedDeliveryRow => ({
  record_id: recordId,
  merchant_id: 'm1',
  sealed_secret: `v1.sealed-${recordId}`,
  token_hash: token,
  created_at: at(0),
  expires_at: at(expires),
  revealed_at: null,
});

const dispute = (id: string, recordId: string, opened: number, deadline: number): DisputeRow => ({
  id,
  record_id: recordId,
  merchant_id: 'm1',
  reason: 'already_used',
  description: 'the key was used',
  status: 'open',
  opened_at: at(opened),
  deadline_at: at(deadline),
  warned_at: null,
  response: null,
  answer: null,
  answered_at: null,
  decision: null,
  decided_by: null,
  decided_at: null,
  decision_note: null,
});

export function afterSaleBehaviour(storage: () => Storage): void {
  it('keeps one sealed delivery per record, found by its token hash, revealed once', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1', 'r2']);
    await s.afterSale.insertSealed(sealed('r1', 100));
    await expect(s.afterSale.insertSealed(sealed('r1', 100, hash('other')))).rejects.toBeInstanceOf(
      DuplicateKeyError,
    );
    await expect(s.afterSale.insertSealed(sealed('r2', 100, hash('token r1')))).rejects.toBeInstanceOf(
      DuplicateKeyError,
    );
    expect(await s.afterSale.sealedByToken(hash('token r1'))).toEqual(sealed('r1', 100));
    expect(await s.afterSale.sealedByToken(hash('nothing'))).toBeUndefined();
    expect(await s.afterSale.markRevealed('r1', at(5))).toBe(true);
    expect(await s.afterSale.markRevealed('r1', at(6))).toBe(false);
    expect(await s.afterSale.markRevealed('r2', at(6))).toBe(false);
    expect((await s.afterSale.sealedOf('r1'))?.revealed_at).toBe(at(5));
  });

  it('purges the sealed secrets expired by now, at most `limit`, earliest first', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1', 'r2', 'r3']);
    for (const [id, expires] of [
      ['r1', 30],
      ['r2', 10],
      ['r3', 50],
    ] as const) {
      await s.afterSale.insertSealed(sealed(id, expires));
    }
    expect(await s.afterSale.purgeExpiredSecrets(at(30), 1)).toBe(1);
    expect((await s.afterSale.sealedOf('r2'))?.sealed_secret).toBeNull();
    expect((await s.afterSale.sealedOf('r1'))?.sealed_secret).not.toBeNull();
    expect(await s.afterSale.purgeExpiredSecrets(at(30), 10)).toBe(1);
    expect(await s.afterSale.purgeExpiredSecrets(at(30), 10)).toBe(0);
    expect((await s.afterSale.sealedOf('r3'))?.sealed_secret).toBe('v1.sealed-r3');
  });

  it('finds disputes by record, status and deadline, and changes them by compare-and-set', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1', 'r2']);
    await s.afterSale.insertDispute(dispute('d2', 'r1', 20, 120));
    await s.afterSale.insertDispute(dispute('d1', 'r2', 10, 110));
    await expect(s.afterSale.insertDispute(dispute('d1', 'r1', 0, 0))).rejects.toBeInstanceOf(
      DuplicateKeyError,
    );
    expect((await s.afterSale.disputesOf('r1')).map((d) => d.id)).toEqual(['d2']);
    expect((await s.afterSale.openDueBy(at(115), 10)).map((d) => d.id)).toEqual(['d1']);
    expect((await s.afterSale.unwarnedDueBy(at(200), 1)).map((d) => d.id)).toEqual(['d1']);
    expect(await s.afterSale.updateDispute('d1', 'open', { warned_at: at(100) })).toBe(true);
    expect((await s.afterSale.unwarnedDueBy(at(200), 10)).map((d) => d.id)).toEqual(['d2']);
    expect(
      await s.afterSale.updateDispute('d1', 'open', {
        status: 'answered',
        response: 'contest',
        answered_at: at(101),
      }),
    ).toBe(true);
    expect(await s.afterSale.updateDispute('d1', 'open', { status: 'decided' })).toBe(false);
    expect((await s.afterSale.openDueBy(at(500), 10)).map((d) => d.id)).toEqual(['d2']);
    expect((await s.afterSale.disputesWithStatus(['answered'], 10)).map((d) => d.id)).toEqual(['d1']);
    expect((await s.afterSale.disputesWithStatus(['open', 'answered'], 10)).map((d) => d.id)).toEqual([
      'd1',
      'd2',
    ]);
    expect(await s.afterSale.dispute('d1')).toMatchObject({ status: 'answered', warned_at: at(100) });
  });

  it('keeps evidence files with their bytes, listed without them', async () => {
    const s = storage();
    await seedRecords(s, 'm1', ['r1']);
    await s.afterSale.insertDispute(dispute('d1', 'r1', 0, 100));
    const file = (position: number, bytes: number[]) => ({
      dispute_id: 'd1',
      position,
      side: 'buyer' as const,
      content_type: 'image/png',
      size: bytes.length,
      sha256: hash(`file ${position}`),
      bytes: new Uint8Array(bytes),
    });
    await s.afterSale.insertFiles([file(0, [1, 2, 3]), file(1, [0, 255])]);
    await expect(s.afterSale.insertFiles([file(2, [1]), file(1, [1])])).rejects.toBeInstanceOf(
      DuplicateKeyError,
    );
    expect(await s.afterSale.filesOf('d1')).toEqual(
      [
        { ...file(0, []), size: 3, bytes: undefined },
        { ...file(1, []), size: 2, bytes: undefined },
      ].map(({ bytes: _b, ...rest }) => rest),
    );
    expect(await s.afterSale.file('d1', 1)).toEqual(file(1, [0, 255]));
    expect(await s.afterSale.file('d1', 2)).toBeUndefined();
  });
}
