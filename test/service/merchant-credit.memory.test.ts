/**
 * The credit record on the memory store: the service puts counts and strikes together, and the
 * cache computes each merchant's at most once a minute, concurrent asks sharing one computation.
 */
import { describe, expect, it } from 'vitest';
import { CREDIT_TTL_MS, CreditCache, merchantCredit } from '../../src/service/merchant-credit.ts';
import { strikeMerchant } from '../../src/service/merchants.ts';
import { memoryService, verifiedMerchant } from '../helpers/memory-context.ts';

describe('merchant credit (memory)', () => {
  it('shows strikes by count and date, suspension at the second, never a reason', async () => {
    const { ctx } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    await strikeMerchant(ctx, merchant.id, 'first: reason kept by the operator');
    await strikeMerchant(ctx, merchant.id, 'second: reason kept by the operator');
    const credit = await merchantCredit(ctx, merchant.id);
    expect(credit).toMatchObject({
      status: 'suspended',
      suspended: true,
      itemsIssued: 0,
      revokedShare: null,
      strikes: { count: 2, dates: [expect.any(String), expect.any(String)] },
    });
    expect(JSON.stringify(credit)).not.toContain('reason kept');
  });

  it('the cache reuses a record for its minute, shares one computation, and keeps no failure', async () => {
    const { ctx, storage, clock } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    const cache = new CreditCache();
    let computed = 0;
    const credit = storage.merchants.credit.bind(storage.merchants);
    storage.merchants.credit = (id) => (computed++, credit(id));

    const [a, b] = await Promise.all([cache.get(ctx, merchant.id), cache.get(ctx, merchant.id)]);
    expect(a).toBe(b);
    expect(computed).toBe(1);
    await strikeMerchant(ctx, merchant.id, 'struck within the minute');
    clock.advance(CREDIT_TTL_MS - 1);
    expect((await cache.get(ctx, merchant.id)).strikes.count).toBe(0);
    clock.advance(1);
    expect((await cache.get(ctx, merchant.id)).strikes.count).toBe(1);
    expect(computed).toBe(2);

    await expect(cache.get(ctx, 'm_unknown')).rejects.toMatchObject({ code: 'merchant_not_found' });
    await expect(cache.get(ctx, 'm_unknown')).rejects.toMatchObject({ code: 'merchant_not_found' });
  });

  it('holds at most maxEntries merchants, dropping the oldest', async () => {
    const { ctx, storage } = memoryService();
    const one = (await verifiedMerchant(ctx, 'One')).merchant.id;
    const two = (await verifiedMerchant(ctx, 'Two')).merchant.id;
    const cache = new CreditCache(CREDIT_TTL_MS, 1);
    let computed = 0;
    const credit = storage.merchants.credit.bind(storage.merchants);
    storage.merchants.credit = (id) => (computed++, credit(id));
    await cache.get(ctx, one);
    await cache.get(ctx, two);
    await cache.get(ctx, one);
    expect(computed).toBe(3);
  });
});
