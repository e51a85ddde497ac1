/**
 * What an auditor uses: batches paged by `after`, one batch, and its leaves as raw bytes that rebuild
 * the root read from the chain; and every proof of a batch of a few thousand leaves reaching that
 * root. On SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MerkleTree,
  processProof,
  verifyBundle,
  type Hex,
  type ProofBundleV1,
} from '../../src/core/index.ts';
import { proofFromStore } from '../../src/service/batches.ts';
import { NODES_PER_CHUNK } from '../../src/storage/sql/batches.ts';
import { BACKENDS, postgresSkipReason } from '../helpers/databases.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { recordBody, registerMany } from '../helpers/records.ts';

const BIG = 2 * 1000 + 500;

describe.each(BACKENDS)('auditor API (%s)', (backend) => {
  let h: Harness;
  let skip: string | null = null;
  let bigIds: string[] = [];
  let apiKey: string;

  beforeAll(async () => {
    if (backend === 'postgres') skip = await postgresSkipReason();
    if (skip) return;
    h = await startHarness({ backend });
    ({ apiKey } = await h.verifiedMerchant('Audit Shop'));
    // Batch 1: a few thousand leaves from several requests of 1,000.
    bigIds = await registerMany(h, apiKey, 'big', BIG);
    await h.sealAndWaitFinal(60_000);
    // Batches 2..5: small ones, of 1, 2, 3 and 4 leaves.
    for (let n = 1; n <= 4; n++) {
      await registerMany(h, apiKey, `small-${n}`, n);
      await h.sealAndWaitFinal();
    }
  });
  afterAll(async () => h?.close());

  it('pages batches with after/limit and next', async (t) => {
    if (skip) return t.skip(skip);
    const page = async (query: string) => {
      const res = await h.call('GET', `/v1/batches${query}`);
      expect(res.statusCode, query).toBe(200);
      return res.json() as { batches: Array<{ id: number; leafCount: number }>; next: number | null };
    };
    const all = await page('');
    expect(all.batches.map((b) => b.id)).toEqual([1, 2, 3, 4, 5]);
    expect(all.batches.map((b) => b.leafCount)).toEqual([BIG, 1, 2, 3, 4]);
    expect(all.next).toBeNull();

    const first = await page('?limit=2');
    expect(first.batches.map((b) => b.id)).toEqual([1, 2]);
    expect(first.next).toBe(2);
    const second = await page(`?after=${first.next}&limit=2`);
    expect(second.batches.map((b) => b.id)).toEqual([3, 4]);
    expect(second.next).toBe(4);
    const third = await page(`?after=${second.next}&limit=2`);
    expect(third.batches.map((b) => b.id)).toEqual([5]);
    expect(third.next).toBeNull();

    // A full last page points at an empty one.
    const exact = await page('?after=0&limit=5');
    expect(exact.next).toBe(5);
    expect(await page('?after=5&limit=5')).toEqual({ batches: [], next: null });
    expect((await page('?after=999')).batches).toEqual([]);

    for (const bad of ['?limit=0', '?limit=1001', '?limit=abc', '?after=-1', '?after=1.5', '?page=2']) {
      const res = await h.call('GET', `/v1/batches${bad}`);
      expect(res.statusCode, bad).toBe(400);
      expect(res.json().code).toBe('invalid_request');
    }
  });

  it('shows one batch as it is on chain', async (t) => {
    if (skip) return t.skip(skip);
    const res = await h.call('GET', '/v1/batches/1');
    expect(res.statusCode).toBe(200);
    const batch = res.json();
    const row = await h.runtime.storage.db
      .selectFrom('batches')
      .selectAll()
      .where('id', '=', 1)
      .executeTakeFirstOrThrow();
    expect(batch).toEqual({
      id: 1,
      root: row.root,
      leafCount: BIG,
      status: 'final',
      sealedAt: row.sealed_at,
      txHash: row.tx_hash,
      blockNumber: row.block_number,
    });
    expect(batch.root).toBe(await h.runtime.services.chain.rootOf(1));
    const receipt = await h.runtime.services.chain.receipt(batch.txHash as Hex);
    expect(receipt).toMatchObject({ status: 'success', blockNumber: batch.blockNumber });

    const missing = await h.call('GET', '/v1/batches/999');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ statusCode: 404, code: 'batch_not_found' });
    for (const bad of ['0', '-1', 'abc', '1e3', '01']) {
      expect((await h.call('GET', `/v1/batches/${bad}`)).statusCode, bad).toBe(400);
    }
  });

  it("serves each batch's leaves as 32-byte octets that rebuild the root on chain", async (t) => {
    if (skip) return t.skip(skip);
    const { chain } = h.runtime.services;
    for (const id of [1, 2, 3, 4, 5]) {
      const res = await h.call('GET', `/v1/batches/${id}/leaves`);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/octet-stream');
      const bytes = new Uint8Array(res.rawPayload);
      const leafCount = (await h.call('GET', `/v1/batches/${id}`)).json().leafCount;
      expect(bytes.length).toBe(32 * leafCount);
      expect(MerkleTree.fromPacked(bytes).root).toBe(await chain.rootOf(id));
    }
    // The leaves are the events' leaves, in leaf_index order.
    const bytes = new Uint8Array((await h.call('GET', '/v1/batches/1/leaves')).rawPayload);
    const events = await h.runtime.storage.db
      .selectFrom('events')
      .select(['leaf', 'leaf_index'])
      .where('batch_id', '=', 1)
      .where('leaf_index', 'in', [0, NODES_PER_CHUNK - 1, NODES_PER_CHUNK, BIG - 1])
      .execute();
    expect(events).toHaveLength(4);
    for (const e of events) {
      expect(Buffer.from(bytes.subarray(e.leaf_index! * 32, e.leaf_index! * 32 + 32)).toString('hex')).toBe(
        e.leaf.slice(2),
      );
    }
    expect((await h.call('GET', '/v1/batches/999/leaves')).statusCode).toBe(404);
  });

  it(`every proof of a batch of ${BIG} leaves reaches the root on chain`, async (t) => {
    if (skip) return t.skip(skip);
    const ctx = h.runtime.services.ctx;
    const root = await h.runtime.services.chain.rootOf(1);
    const tree = MerkleTree.fromPacked(
      new Uint8Array((await h.call('GET', '/v1/batches/1/leaves')).rawPayload),
    );
    const wrong: number[] = [];
    for (let start = 0; start < BIG; start += 100) {
      const indexes = Array.from({ length: Math.min(100, BIG - start) }, (_, i) => start + i);
      const proofs = await Promise.all(indexes.map((i) => proofFromStore(ctx, 1, BIG, i)));
      indexes.forEach((i, k) => {
        const proof = proofs[k]!;
        const expected = tree.proof(i);
        const same = proof.length === expected.length && proof.every((p, j) => p === expected[j]);
        if (!same || processProof(tree.leaf(i), proof) !== root) wrong.push(i);
      });
    }
    expect(wrong).toEqual([]);
    // And through the API, as bundles, for records across the chunk boundaries and the odd tail.
    const sample = [0, 1, 255, 256, 257, 511, 512, 1000, 1999, 2047, 2048, BIG - 2, BIG - 1].map(
      (i) => bigIds[i]!,
    );
    for (const id of sample) {
      const res = await h.call('GET', `/v1/records/${id}/proofs`);
      const bundle = res.json().bundles[0] as ProofBundleV1;
      expect(bundle).toMatchObject({ batchId: 1, root, anchor: { status: 'final' } });
      expect(verifyBundle(bundle).valid).toBe(true);
      expect((await h.call('POST', '/v1/verify', { body: bundle })).json()).toMatchObject({ valid: true });
    }
  });

  it('a record registered after these batches is in none of them', async (t) => {
    if (skip) return t.skip(skip);
    const res = await h.call('POST', '/v1/records', {
      token: apiKey,
      body: { records: [recordBody('late')] },
    });
    const bundle = (await h.call('GET', `/v1/records/${res.json().records[0].id}/proofs`)).json().bundles[0];
    expect(bundle).toMatchObject({ batchId: null, anchor: { status: 'pending' } });
    expect((await h.call('GET', '/v1/batches')).json().batches).toHaveLength(5);
  });
});
