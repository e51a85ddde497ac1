import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, postgresSkipReason } from '../helpers/databases.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';

describe.each(BACKENDS)('register -> seal -> anchor -> verdict (%s)', (backend) => {
  let h: Harness | undefined;
  let skip: string | null = null;
  beforeAll(async () => {
    if (backend === 'postgres') skip = await postgresSkipReason();
    if (!skip) h = await startHarness({ backend });
  });
  afterAll(async () => h?.close());

  it('a registered licence becomes genuine once its batch is final', async (t) => {
    if (skip) return t.skip(skip);
    const { apiKey } = await h!.verifiedMerchant();
    const reg = await h!.call('POST', '/v1/records', {
      token: apiKey,
      body: {
        records: [
          {
            externalId: 'e1',
            kind: 'licence',
            sku: 'WIN11-PRO',
            productName: 'Windows 11 Pro',
            serial: 'SN-1',
          },
        ],
      },
    });
    expect(reg.statusCode).toBe(201);
    const id = reg.json().records[0].id;
    expect((await h!.call('GET', `/v1/verify/${id}`)).json().verdict).toBe('pending');
    await h!.sealAndWaitFinal();
    const verdict = await h!.call('GET', `/v1/verify/${id}`);
    expect(verdict.json()).toMatchObject({ verdict: 'genuine', issuance: { status: 'final', batchId: 1 } });
  });
});
