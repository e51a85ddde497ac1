/** MerchantStore: merchants, evidence, strikes and API keys. */
import { expect, it } from 'vitest';
import { DuplicateKeyError } from '../../../src/storage/errors.ts';
import type { EvidenceRow, StrikeRow } from '../../../src/storage/rows.ts';
import type { Storage } from '../../../src/storage/storage.ts';
import { at, eventRow, merchantRow, recordRow, seedRecords } from '../fixtures.ts';

function evidenceRow(merchantId: string, position: number): EvidenceRow {
  return {
    merchant_id: merchantId,
    position,
    description: `document ${position}`,
    sha256: 'ab'.repeat(32),
    added_at: at(position),
  };
}

function strikeRow(merchantId: string, number: number, reason = `reason ${number}`): StrikeRow {
  return { merchant_id: merchantId, number, reason, created_at: at(number) };
}

export function merchantBehaviour(storage: () => Storage): void {
  it('stores a merchant and reads it back; an unknown id is undefined', async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1'));
    expect(await s.merchants.get('m1')).toEqual(merchantRow('m1'));
    expect(await s.merchants.get('m2')).toBeUndefined();
  });

  it('refuses a second merchant with the same id and keeps the first', async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1'));
    await expect(s.merchants.insert(merchantRow('m1', { name: 'Impostor' }))).rejects.toBeInstanceOf(
      DuplicateKeyError,
    );
    expect(await s.merchants.get('m1')).toEqual(merchantRow('m1'));
  });

  it('keeps name keys unique: a taken key refuses the insert, and null keys never collide', async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1', { name_key: 'alpha cards' }));
    await expect(s.merchants.insert(merchantRow('m2', { name_key: 'alpha cards' }))).rejects.toBeInstanceOf(
      DuplicateKeyError,
    );
    expect(await s.merchants.get('m2')).toBeUndefined();
    await s.merchants.insert(merchantRow('m3', { name_key: null, created_at: at(5) }));
    await s.merchants.insert(merchantRow('m4', { name_key: null, created_at: at(2) }));
    expect((await s.merchants.byNameKey('alpha cards'))?.id).toBe('m1');
    expect(await s.merchants.byNameKey('beta')).toBeUndefined();
    expect((await s.merchants.withoutNameKey()).map((m) => m.id)).toEqual(['m4', 'm3']);
  });

  it('sets a name key unless another merchant holds it, and says whether the merchant exists', async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1', { name_key: 'alpha' }));
    await s.merchants.insert(merchantRow('m2', { name_key: null }));
    await expect(s.merchants.setNameKey('m2', 'alpha')).rejects.toBeInstanceOf(DuplicateKeyError);
    expect((await s.merchants.get('m2'))?.name_key).toBeNull();
    expect(await s.merchants.setNameKey('m2', 'beta')).toBe(true);
    expect(await s.merchants.get('m2')).toEqual(merchantRow('m2', { name_key: 'beta' }));
    expect((await s.merchants.byNameKey('beta'))?.id).toBe('m2');
    expect(await s.merchants.setNameKey('m1', 'alpha')).toBe(true);
    expect(await s.merchants.setNameKey('nobody', 'gamma')).toBe(false);
    expect(await s.merchants.byNameKey('gamma')).toBeUndefined();
    expect(await s.merchants.withoutNameKey()).toEqual([]);
  });

  it('update changes only the fields given and says whether the merchant exists', async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1', { status: 'pending', verified_at: null }));
    expect(await s.merchants.update('m1', { status: 'verified', verified_at: at(5) })).toBe(true);
    expect(await s.merchants.get('m1')).toEqual(
      merchantRow('m1', { status: 'verified', verified_at: at(5) }),
    );
    expect(await s.merchants.update('m1', { status: 'suspended', suspended_at: at(9) })).toBe(true);
    expect(await s.merchants.get('m1')).toEqual(
      merchantRow('m1', { status: 'suspended', verified_at: at(5), suspended_at: at(9) }),
    );

    expect(await s.merchants.update('m2', { status: 'verified' })).toBe(false);
    expect(await s.merchants.get('m2')).toBeUndefined();
  });

  it("lists a merchant's evidence in position order, and no one else's", async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1'));
    await s.merchants.insert(merchantRow('m2'));
    await s.merchants.addEvidence([evidenceRow('m1', 2), evidenceRow('m2', 1)]);
    await s.merchants.addEvidence([evidenceRow('m1', 3), evidenceRow('m1', 1)]);
    expect(await s.merchants.evidence('m1')).toEqual([1, 2, 3].map((p) => evidenceRow('m1', p)));
    expect(await s.merchants.evidence('m2')).toEqual([evidenceRow('m2', 1)]);
    expect(await s.merchants.evidence('m3')).toEqual([]);
  });

  it('refuses evidence at a taken position and writes none of that call', async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1'));
    await s.merchants.addEvidence([evidenceRow('m1', 1)]);
    await expect(
      s.merchants.addEvidence([evidenceRow('m1', 2), { ...evidenceRow('m1', 1), description: 'again' }]),
    ).rejects.toBeInstanceOf(DuplicateKeyError);
    await expect(
      s.merchants.addEvidence([evidenceRow('m1', 3), evidenceRow('m1', 3)]),
    ).rejects.toBeInstanceOf(DuplicateKeyError);
    expect(await s.merchants.evidence('m1')).toEqual([evidenceRow('m1', 1)]);
  });

  it('lists strikes in number order and refuses a strike number the merchant already has', async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1'));
    await s.merchants.insert(merchantRow('m2'));
    await s.merchants.addStrike(strikeRow('m1', 2));
    await s.merchants.addStrike(strikeRow('m1', 1));
    await s.merchants.addStrike(strikeRow('m2', 1));
    await expect(s.merchants.addStrike(strikeRow('m1', 1, 'racing strike'))).rejects.toBeInstanceOf(
      DuplicateKeyError,
    );
    expect(await s.merchants.strikes('m1')).toEqual([strikeRow('m1', 1), strikeRow('m1', 2)]);
    expect(await s.merchants.strikes('m2')).toEqual([strikeRow('m2', 1)]);
    expect(await s.merchants.strikes('m3')).toEqual([]);
  });

  it('finds the merchant behind a key hash, with when the key was revoked', async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1'));
    await s.merchants.insertKey({ key_hash: 'k1', merchant_id: 'm1', created_at: at(1), revoked_at: null });
    await s.merchants.insertKey({ key_hash: 'k0', merchant_id: 'm1', created_at: at(0), revoked_at: at(1) });
    expect(await s.merchants.byKeyHash('k1')).toEqual({ merchant: merchantRow('m1'), revokedAt: null });
    expect(await s.merchants.byKeyHash('k0')).toEqual({ merchant: merchantRow('m1'), revokedAt: at(1) });
    expect(await s.merchants.byKeyHash('k2')).toBeUndefined();
  });

  it('refuses a key hash that exists and keeps its owner', async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1'));
    await s.merchants.insert(merchantRow('m2'));
    await s.merchants.insertKey({ key_hash: 'k1', merchant_id: 'm1', created_at: at(1), revoked_at: null });
    await expect(
      s.merchants.insertKey({ key_hash: 'k1', merchant_id: 'm2', created_at: at(2), revoked_at: null }),
    ).rejects.toBeInstanceOf(DuplicateKeyError);
    expect((await s.merchants.byKeyHash('k1'))?.merchant.id).toBe('m1');
  });

  it("revokes every live key of the merchant, leaving revoked ones and other merchants' keys be", async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m1'));
    await s.merchants.insert(merchantRow('m2'));
    const key = (hash: string, merchantId: string, revokedAt: string | null) =>
      s.merchants.insertKey({
        key_hash: hash,
        merchant_id: merchantId,
        created_at: at(0),
        revoked_at: revokedAt,
      });
    await key('old', 'm1', at(3));
    await key('live-1', 'm1', null);
    await key('live-2', 'm1', null);
    await key('other', 'm2', null);

    await s.merchants.revokeKeys('m1', at(7));
    expect((await s.merchants.byKeyHash('old'))?.revokedAt).toBe(at(3));
    expect((await s.merchants.byKeyHash('live-1'))?.revokedAt).toBe(at(7));
    expect((await s.merchants.byKeyHash('live-2'))?.revokedAt).toBe(at(7));
    expect((await s.merchants.byKeyHash('other'))?.revokedAt).toBeNull();
  });

  it("credit counts the merchant's records, the ended ones and its records' dispute events only", async () => {
    const s = storage();
    await s.merchants.insert(merchantRow('m0'));
    expect(await s.merchants.credit('m0')).toEqual({ issued: 0, revoked: 0, refunded: 0, disputes: [] });
    await seedRecords(s, 'm1', ['r1', 'r2', 'r3', 'r4']);
    await seedRecords(s, 'm2', ['r5']);
    await s.records.insertMany([recordRow('r6', 'm2', 'ext-r6', { state: 'revoked' })]);
    await s.records.advanceHead('r1', 0, {
      head_seq: 1,
      state: 'revoked',
      sold: 0,
      activated: 0,
      revealed: 0,
      dispute: 'none',
    });
    await s.records.advanceHead('r2', 0, {
      head_seq: 3,
      state: 'refunded',
      sold: 1,
      activated: 0,
      revealed: 0,
      dispute: 'none',
    });
    // Dispute events stored as any other: type is text, so they count before the lifecycle has them.
    const dispute = (recordId: string, seq: number, type: string) => ({
      ...eventRow(recordId, seq),
      type,
      content: `{"at":"${at(seq)}","data":{},"type":"${type}"}`,
    });
    await s.events.insertMany([
      dispute('r2', 1, 'dispute_opened'),
      dispute('r2', 2, 'dispute_decided'),
      { ...eventRow('r3', 1), type: 'sold' },
      dispute('r5', 1, 'dispute_opened'),
    ]);
    const credit = await s.merchants.credit('m1');
    expect({ ...credit, disputes: [] }).toEqual({ issued: 4, revoked: 1, refunded: 1, disputes: [] });
    const byKey = (a: { seq: number }, b: { seq: number }) => a.seq - b.seq;
    expect(credit.disputes.sort(byKey)).toEqual([
      {
        record_id: 'r2',
        seq: 1,
        type: 'dispute_opened',
        content: dispute('r2', 1, 'dispute_opened').content,
      },
      {
        record_id: 'r2',
        seq: 2,
        type: 'dispute_decided',
        content: dispute('r2', 2, 'dispute_decided').content,
      },
    ]);
    expect(await s.merchants.credit('m2')).toMatchObject({ issued: 2, revoked: 1, refunded: 0 });
  });
}
