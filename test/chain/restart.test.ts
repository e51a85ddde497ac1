/**
 * Restarting on the same DATA_DIR (what `npm start` does after a stop): the development chain is
 * rebuilt from the database, so the registry is at the same address, every anchored root is back
 * under its batch id, verdicts stay genuine and bundles handed out before the restart still verify.
 * A batch whose transaction was saved but never sent is signed again for the new chain.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Hex, ProofBundleV1 } from '../../src/core/index.ts';
import { sealBatch } from '../../src/service/sealing.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { registerMany } from '../helpers/records.ts';
import { waitFor } from '../helpers/wait.ts';

describe('restart on the same data directory (sqlite)', () => {
  let database: TestDatabase | undefined;
  let first: Harness | undefined;
  let second: Harness | undefined;
  afterAll(async () => {
    await first?.close().catch(() => {});
    await second?.close();
    await database?.drop();
  });

  it('keeps every record verifiable', async () => {
    database = await createTestDatabase('sqlite');
    first = await startHarness({ database });
    const { id: merchantId, apiKey } = await first.verifiedMerchant('Restart Shop');
    const a = await registerMany(first, apiKey, 'restart-a', 3);
    expect(
      (await first.call('POST', `/v1/records/${a[0]}/events`, { token: apiKey, body: { type: 'sold' } }))
        .statusCode,
    ).toBe(201);
    await first.sealAndWaitFinal();
    const b = await registerMany(first, apiKey, 'restart-b', 4);
    await first.sealAndWaitFinal();

    const contract = first.runtime.services.chain.contract;
    const bundlesOf = async (h: Harness, id: string) =>
      (await h.call('GET', `/v1/records/${id}/proofs`)).json().bundles as ProofBundleV1[];
    const before = [...(await bundlesOf(first, a[0]!)), ...(await bundlesOf(first, b[3]!))];
    expect(before.map((x) => x.batchId)).toEqual([1, 1, 2]);

    // Batch 3: its anchor transaction was signed and saved, then the process stopped before sending it.
    const c = await registerMany(first, apiKey, 'restart-c', 2);
    await first.runtime.services.batcher.stop();
    const batch3 = (await sealBatch(first.runtime.services.ctx, 10_000))!;
    expect(batch3.id).toBe(3);
    const signed = await first.runtime.services.chain.signAnchor(3, batch3.root as Hex, batch3.leaf_count);
    await first.runtime.storage.db
      .updateTable('batches')
      .set({ status: 'submitted', raw_tx: signed.rawTx, tx_hash: signed.txHash })
      .where('id', '=', 3)
      .execute();
    expect(await first.runtime.services.chain.nextBatchId()).toBe(3);
    const stored = await first.runtime.storage.db.selectFrom('batches').selectAll().orderBy('id').execute();
    await first.close();
    first = undefined;

    second = await startHarness({ database });
    const { chain } = second.runtime.services;
    expect(chain.contract).toBe(contract);
    for (const batch of stored.slice(0, 2)) {
      expect(await chain.rootOf(batch.id)).toBe(batch.root);
      const event = await chain.findAnchor(batch.id);
      expect(event).toMatchObject({ batchId: batch.id, root: batch.root, leafCount: batch.leaf_count });
    }

    // The interrupted batch is anchored anew on the rebuilt chain, under the same id.
    await waitFor('batch 3 final on the new chain', async () => {
      const row = await second!.runtime.storage.db
        .selectFrom('batches')
        .select('status')
        .where('id', '=', 3)
        .executeTakeFirstOrThrow();
      return row.status === 'final';
    });
    expect(await chain.rootOf(3)).toBe(batch3.root);
    expect(await chain.nextBatchId()).toBe(4);
    expect((await chain.findAnchor(3))?.root).toBe(batch3.root);

    for (const id of [a[0]!, a[2]!, b[0]!, b[3]!, c[0]!, c[1]!]) {
      const verdict = (await second.call('GET', `/v1/verify/${id}`)).json();
      expect(verdict, id).toMatchObject({ verdict: 'genuine', merchant: { id: merchantId } });
    }
    // Bundles handed out before the restart, and those served after it, verify on the new chain.
    const after = [
      ...(await bundlesOf(second, a[0]!)),
      ...(await bundlesOf(second, b[3]!)),
      ...(await bundlesOf(second, c[1]!)),
    ];
    for (const bundle of [...before, ...after]) {
      const res = await second.call('POST', '/v1/verify', { body: bundle });
      expect(res.json(), `${bundle.recordId}#${bundle.seq}`).toMatchObject({ valid: true });
    }
    expect(after.slice(0, 3).map((x) => [x.leaf, x.root, x.batchId])).toEqual(
      before.map((x) => [x.leaf, x.root, x.batchId]),
    );
    // The merchant's key still works, and new records still anchor after the restart.
    const d = await registerMany(second, apiKey, 'restart-d', 1);
    await second.sealAndWaitFinal();
    expect((await second.call('GET', `/v1/verify/${d[0]}`)).json().verdict).toBe('genuine');
    expect(await chain.nextBatchId()).toBe(5);
  });
});
