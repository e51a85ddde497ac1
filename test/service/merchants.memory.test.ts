/**
 * Merchant admission and discipline (src/service/merchants.ts) on the memory store: admit, verify
 * with evidence, warn then suspend at the second strike (also when strikes race), key rotation, and
 * which keys authenticate. The HTTP and SQL side is test/service/merchants.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  authenticateMerchant,
  createMerchant,
  merchantProfile,
  rotateKey,
  strikeMerchant,
  verifyMerchant,
} from '../../src/service/merchants.ts';
import { sha256Hex } from '../../src/service/random.ts';
import { outcome } from '../helpers/outcome.ts';
import { memoryService, verifiedMerchant } from '../helpers/memory-context.ts';
import { StaleReadStorage } from '../helpers/stale-reads.ts';

const LETTER = { description: 'reseller letter', sha256: 'AB'.repeat(32) };
const LICENCE = { description: 'business licence', sha256: 'cd'.repeat(32) };

describe('merchants on the memory store', () => {
  it('admits a pending merchant whose key is kept only as its hash and cannot write yet', async () => {
    const { ctx, storage, clock } = memoryService();
    const { merchant, apiKey } = await createMerchant(ctx, {
      name: '星辰卡盟',
      contactEmail: 'ops@example.com',
    });
    expect(merchant).toMatchObject({
      id: expect.stringMatching(/^m_[A-Za-z0-9_-]{22}$/),
      name: '星辰卡盟',
      contact_email: 'ops@example.com',
      status: 'pending',
      created_at: clock.now().toISOString(),
      verified_at: null,
    });
    expect(apiKey).toMatch(/^pmk_/);
    expect(await storage.merchants.byKeyHash(sha256Hex(apiKey))).toEqual({ merchant, revokedAt: null });
    expect(await outcome(authenticateMerchant(ctx, apiKey))).toBe('403 merchant_pending');
  });

  it('verification records the evidence in order (hashes lowercased) and lets the merchant write', async () => {
    const { ctx, clock } = memoryService();
    const { merchant, apiKey } = await createMerchant(ctx, { name: 'Shop' });
    clock.advance(60_000);
    const profile = await verifyMerchant(ctx, merchant.id, [LETTER]);
    expect(profile).toMatchObject({
      status: 'verified',
      verifiedSince: '2025-01-01T00:01:00.000Z',
      evidence: [
        { description: 'reseller letter', sha256: 'ab'.repeat(32), addedAt: '2025-01-01T00:01:00.000Z' },
      ],
    });
    expect((await authenticateMerchant(ctx, apiKey)).id).toBe(merchant.id);
    clock.advance(60_000);
    // More evidence later is appended; the merchant stays verified since the first time.
    const again = await verifyMerchant(ctx, merchant.id, [LICENCE]);
    expect(again.verifiedSince).toBe('2025-01-01T00:01:00.000Z');
    expect(again.evidence.map((e) => e.description)).toEqual(['reseller letter', 'business licence']);
  });

  it('unknown merchants are 404 merchant_not_found for every operator action', async () => {
    const { ctx } = memoryService();
    expect(await outcome(verifyMerchant(ctx, 'm_nobody', [LETTER]))).toBe('404 merchant_not_found');
    expect(await outcome(strikeMerchant(ctx, 'm_nobody', 'x'))).toBe('404 merchant_not_found');
    expect(await outcome(rotateKey(ctx, 'm_nobody'))).toBe('404 merchant_not_found');
    expect(await outcome(merchantProfile(ctx, 'm_nobody'))).toBe('404 merchant_not_found');
  });

  it('the first strike warns; the second suspends and revokes every key; a third is refused', async () => {
    const { ctx, storage, clock } = memoryService();
    const { merchant, apiKey } = await verifiedMerchant(ctx);
    const warned = await strikeMerchant(ctx, merchant.id, 'sold a used key');
    expect(warned).toMatchObject({ status: 'verified', suspendedSince: null });
    // Issue 13: the public profile keeps the count and dates; the reason stays with the operator.
    expect(warned.strikes).toEqual([{ number: 1, at: clock.now().toISOString() }]);
    expect((await storage.merchants.strikes(merchant.id)).map((s) => s.reason)).toEqual(['sold a used key']);
    expect((await authenticateMerchant(ctx, apiKey)).id).toBe(merchant.id);

    clock.advance(1_000);
    const suspended = await strikeMerchant(ctx, merchant.id, 'again');
    expect(suspended).toMatchObject({ status: 'suspended', suspendedSince: '2025-01-01T00:00:01.000Z' });
    expect(suspended.strikes.map((s) => s.number)).toEqual([1, 2]);
    expect(await storage.merchants.byKeyHash(sha256Hex(apiKey))).toMatchObject({
      revokedAt: '2025-01-01T00:00:01.000Z',
    });
    expect(await outcome(authenticateMerchant(ctx, apiKey))).toBe('401 unauthorized');
    expect(await outcome(strikeMerchant(ctx, merchant.id, 'third'))).toBe('409 merchant_suspended');
    expect(await outcome(verifyMerchant(ctx, merchant.id, [LETTER]))).toBe('409 merchant_suspended');
    expect(await outcome(rotateKey(ctx, merchant.id))).toBe('409 merchant_suspended');
    expect((await storage.merchants.strikes(merchant.id)).length).toBe(2);
  });

  it('two strikes at once take numbers 1 and 2, never 1 twice, and suspend', async () => {
    const { ctx, storage } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    await Promise.all([strikeMerchant(ctx, merchant.id, 'a'), strikeMerchant(ctx, merchant.id, 'b')]);
    expect((await storage.merchants.strikes(merchant.id)).map((s) => s.number)).toEqual([1, 2]);
    expect((await storage.merchants.get(merchant.id))!.status).toBe('suspended');
  });

  it('a strike that read the strikes before a rival committed is 409 concurrent_strike and writes nothing', async () => {
    const { ctx, storage } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    const racing = new StaleReadStorage(storage);
    racing.answerNext('merchants.strikes', []);
    await strikeMerchant(ctx, merchant.id, 'rival');
    expect(await outcome(strikeMerchant({ ...ctx, storage: racing }, merchant.id, 'late'))).toBe(
      '409 concurrent_strike',
    );
    expect(racing.pending()).toBe(0);
    expect((await storage.merchants.strikes(merchant.id)).map((s) => s.reason)).toEqual(['rival']);
    expect((await storage.merchants.get(merchant.id))!.status).toBe('verified');
  });

  it('a strike that read "verified" after a rival suspended the merchant is refused as suspended', async () => {
    const { ctx, storage } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    const racing = new StaleReadStorage(storage);
    racing.answerNext('merchants.get', (await storage.merchants.get(merchant.id))!);
    await strikeMerchant(ctx, merchant.id, 'one');
    await strikeMerchant(ctx, merchant.id, 'two');
    expect(await outcome(strikeMerchant({ ...ctx, storage: racing }, merchant.id, 'three'))).toBe(
      '409 merchant_suspended',
    );
    expect((await storage.merchants.strikes(merchant.id)).length).toBe(2);
  });

  it('rotating a key: the new one authenticates at once, every older one is 401', async () => {
    const { ctx } = memoryService();
    const { merchant, apiKey: first } = await verifiedMerchant(ctx);
    const { apiKey: second } = await rotateKey(ctx, merchant.id);
    const { apiKey: third } = await rotateKey(ctx, merchant.id);
    expect(new Set([first, second, third]).size).toBe(3);
    expect(await outcome(authenticateMerchant(ctx, first))).toBe('401 unauthorized');
    expect(await outcome(authenticateMerchant(ctx, second))).toBe('401 unauthorized');
    expect((await authenticateMerchant(ctx, third)).id).toBe(merchant.id);
  });

  it('which keys authenticate: unknown and revoked 401, pending 403, a suspended key that outlived revocation 403', async () => {
    const { ctx, storage } = memoryService();
    expect(await outcome(authenticateMerchant(ctx, 'pmk_unknown'))).toBe('401 unauthorized');
    const pending = await createMerchant(ctx, { name: 'Pending' });
    expect(await outcome(authenticateMerchant(ctx, pending.apiKey))).toBe('403 merchant_pending');
    const { merchant } = await verifiedMerchant(ctx, 'Struck');
    await strikeMerchant(ctx, merchant.id, 'one');
    await strikeMerchant(ctx, merchant.id, 'two');
    // The second strike revoked every key; one written afterwards (say by a restore) still gets no write.
    await storage.merchants.insertKey({
      key_hash: sha256Hex('pmk_outlived'),
      merchant_id: merchant.id,
      created_at: '2025-01-01T00:00:00.000Z',
      revoked_at: null,
    });
    expect(await outcome(authenticateMerchant(ctx, 'pmk_outlived'))).toBe('403 merchant_suspended');
  });
});
