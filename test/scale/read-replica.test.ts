/**
 * Reads from a replica: an instance whose DATABASE_URL is a read-only connection (standing in for a
 * PostgreSQL hot standby: default_transaction_read_only=on) starts (its migrations find nothing to
 * do), serves the read-only routes, and never takes the anchoring lease, while an instance on the
 * primary keeps anchoring.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresSkipReason, type TestDatabase } from '../helpers/databases.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { clusterEnv, startSharedChain, type SharedChain } from './cluster.ts';
import { recordBody } from '../helpers/records.ts';
import { waitFor } from '../helpers/wait.ts';

describe('an instance on a read-only replica connection', () => {
  let skip: string | null = null;
  let database: TestDatabase | undefined;
  let chain: SharedChain | undefined;
  let primary: Harness | undefined;
  let replica: Harness | undefined;

  beforeAll(async () => {
    skip = await postgresSkipReason();
    if (skip) return;
    database = await createTestDatabase('postgres');
    chain = await startSharedChain();
    const env = clusterEnv(chain.url, await chain.deploy());
    primary = await startHarness({ database, env });
    const readOnly: TestDatabase = {
      ...database,
      databaseUrl: `${database.databaseUrl}?options=${encodeURIComponent('-c default_transaction_read_only=on')}`,
    };
    replica = await startHarness({ database: readOnly, env });
  });
  afterAll(async () => {
    await Promise.allSettled([replica?.close(), primary?.close()]);
    await chain?.close();
    await database?.drop();
  });

  it('serves records, proofs and batches; the primary instance keeps anchoring', async (t) => {
    if (skip) return t.skip(skip);
    const { id: merchantId, apiKey } = await primary!.verifiedMerchant();
    const reg = await primary!.call('POST', '/v1/records', {
      token: apiKey,
      body: { records: [recordBody('replica-1'), recordBody('replica-2')] },
    });
    expect(reg.statusCode).toBe(201);
    const id = reg.json().records[0].id as string;
    await primary!.sealAndWaitFinal();

    for (const url of [
      `/v1/records/${id}`,
      `/v1/records/${id}/proofs`,
      `/v1/records/${id}/qr.svg`,
      `/v1/merchants/${merchantId}`,
      '/v1/batches',
      '/v1/batches/1',
      '/v1/batches/1/leaves',
      '/v1/chain',
      '/healthz',
    ]) {
      const res = await replica!.call('GET', url);
      expect([url, res.statusCode]).toEqual([url, 200]);
    }
    const proofs = await replica!.call('GET', `/v1/records/${id}/proofs`);
    expect(proofs.json().bundles[0].anchor.status).toBe('final');

    // Writes need the primary: a registration through the replica instance fails and writes nothing.
    const write = await replica!.call('POST', '/v1/records', {
      token: apiKey,
      body: { records: [recordBody('replica-3')] },
    });
    expect(write.statusCode).toBe(500);
    const count = await primary!.runtime.storage.db
      .selectFrom('records')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(2);

    // The replica instance cannot take the lease; its batcher reports why and backs off.
    await waitFor('the replica batcher to report', () => replica!.runtime.services.batcher.status.lastError);
    expect(replica!.runtime.services.batcher.status.leader).toBe(false);
    expect(replica!.runtime.services.batcher.status.lastError).toMatch(/read-only/);
    expect(primary!.runtime.services.batcher.status.leader).toBe(true);

    // GET /v1/verify/:id and /v/:id count a scan (a write): on a replica they fail. Route them to
    // the primary (docs/operations.md).
    const verify = await replica!.call('GET', `/v1/verify/${id}`);
    const viaPrimary = await primary!.call('GET', `/v1/verify/${id}`);
    expect(viaPrimary.json().verdict).toBe('genuine');
    console.log(`GET /v1/verify/:id on the read-only instance answered ${verify.statusCode}`);
  });
});
