/**
 * Sealing: a leaf is never in two batches, even when two instances seal at once on one PostgreSQL
 * database; BATCH_MAX_LEAVES splits a large pending set; BATCH_MAX_AGE_MS seals a lone record.
 */
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MerkleTree } from '../../src/core/index.ts';
import { batchLeaves } from '../../src/service/batches.ts';
import { sealBatch } from '../../src/service/sealing.ts';
import type { ServiceContext } from '../../src/service/context.ts';
import { openStorage, type SqlStorage } from '../../src/storage/sql/open.ts';
import type { Database } from '../../src/storage/sql/schema.ts';
import { BACKENDS, postgresSkipReason } from '../helpers/databases.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { recordBody, registerMany } from '../helpers/records.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Every event is in at most one batch, and each batch's stored leaves are exactly the events that
 * name it, in leaf_index order 0..n-1, under the stored root.
 */
async function expectBatchesPartitionEvents(ctx: ServiceContext, db: Kysely<Database>): Promise<void> {
  const batches = await db.selectFrom('batches').selectAll().orderBy('id').execute();
  for (const batch of batches) {
    const events = await db
      .selectFrom('events')
      .select(['leaf', 'leaf_index'])
      .where('batch_id', '=', batch.id)
      .orderBy('leaf_index')
      .execute();
    expect(events.length, `batch ${batch.id}`).toBe(batch.leaf_count);
    expect(events.map((e) => e.leaf_index)).toEqual(events.map((_, i) => i));
    const stored = await batchLeaves(ctx, batch.id);
    expect(Buffer.from(stored).toString('hex')).toBe(events.map((e) => e.leaf.slice(2)).join(''));
    expect(MerkleTree.fromPacked(new Uint8Array(stored)).root).toBe(batch.root);
  }
  const total = batches.reduce((n, b) => n + b.leaf_count, 0);
  const batched = await db
    .selectFrom('events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('batch_id', 'is not', null)
    .executeTakeFirstOrThrow();
  expect(Number(batched.n)).toBe(total);
}

describe('two instances sealing at once on one PostgreSQL database', () => {
  let h: Harness | undefined;
  let second: SqlStorage | undefined;
  let skip: string | null = null;
  beforeAll(async () => {
    skip = await postgresSkipReason();
    if (skip) return;
    h = await startHarness({ backend: 'postgres', startBatcher: false });
    second = await openStorage({ databaseUrl: h.database.databaseUrl, dataDir: h.database.dataDir });
  });
  afterAll(async () => {
    await second?.close();
    await h?.close();
  });

  it('one wins each race; the other fails or seals a disjoint set; every event is in exactly one batch', async (t) => {
    if (skip) return t.skip(skip);
    const { apiKey } = await h!.verifiedMerchant('Race Shop');
    await registerMany(h!, apiKey, 'race', 2500);
    const a: ServiceContext = h!.runtime.services.ctx;
    const b: ServiceContext = { ...a, storage: second! };
    const db = h!.runtime.storage.db;
    let failures = 0;
    for (let round = 0; round < 40; round++) {
      const pending = await db
        .selectFrom('events')
        .select('record_id')
        .where('batch_id', 'is', null)
        .limit(1)
        .execute();
      if (pending.length === 0) break;
      // Small batches, so both sealers reach for the same oldest events.
      const results = await Promise.allSettled([sealBatch(a, 300), sealBatch(b, 300), sealBatch(a, 300)]);
      failures += results.filter((r) => r.status === 'rejected').length;
      expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
    }
    // The races really happened (both transactions took the same next id at least once).
    expect(failures).toBeGreaterThan(0);
    const unsealed = await db
      .selectFrom('events')
      .select('record_id')
      .where('batch_id', 'is', null)
      .execute();
    expect(unsealed).toEqual([]);
    const batches = await db.selectFrom('batches').select(['id', 'leaf_count']).orderBy('id').execute();
    expect(batches.map((x) => x.id)).toEqual(batches.map((_, i) => i + 1));
    expect(batches.reduce((n, x) => n + x.leaf_count, 0)).toBe(2500);
    for (const x of batches) expect(x.leaf_count).toBeLessThanOrEqual(300);
    await expectBatchesPartitionEvents(a, db);
  });
});

describe.each(BACKENDS)(
  'sealing by size and by age (%s, BATCH_MAX_LEAVES=100, BATCH_MAX_AGE_MS=1000)',
  (backend) => {
    let h: Harness | undefined;
    let skip: string | null = null;
    beforeAll(async () => {
      if (backend === 'postgres') skip = await postgresSkipReason();
      if (skip) return;
      h = await startHarness({ backend, env: { BATCH_MAX_LEAVES: '100', BATCH_MAX_AGE_MS: '1000' } });
    });
    afterAll(async () => h?.close());

    const db = () => h!.runtime.storage.db;
    /** Milliseconds between a batch's oldest event and its sealing (one clock writes both). */
    async function waited(batchId: number): Promise<number> {
      const batch = await db()
        .selectFrom('batches')
        .selectAll()
        .where('id', '=', batchId)
        .executeTakeFirstOrThrow();
      const oldest = await db()
        .selectFrom('events')
        .select((eb) => eb.fn.min('created_at').as('at'))
        .where('batch_id', '=', batchId)
        .executeTakeFirstOrThrow();
      return Date.parse(batch.sealed_at) - Date.parse(oldest.at as string);
    }
    const allFinal = async () => {
      const open = await db().selectFrom('batches').select('id').where('status', '!=', 'final').execute();
      const pending = await db()
        .selectFrom('events')
        .select('record_id')
        .where('batch_id', 'is', null)
        .execute();
      return open.length === 0 && pending.length === 0;
    };

    it('BATCH_MAX_AGE_MS: a lone record is sealed once it has waited long enough, then anchored', async (t) => {
      if (skip) return t.skip(skip);
      const { apiKey } = await h!.verifiedMerchant('Age Shop');
      const res = await h!.call('POST', '/v1/records', {
        token: apiKey,
        body: { records: [recordBody('age-1')] },
      });
      expect(res.statusCode).toBe(201);
      const id = res.json().records[0].id;
      await waitFor('the record to become genuine', async () => {
        return (await h!.call('GET', `/v1/verify/${id}`)).json().verdict === 'genuine';
      });
      const batch = await db().selectFrom('batches').selectAll().executeTakeFirstOrThrow();
      expect(batch).toMatchObject({ id: 1, leaf_count: 1, status: 'final' });
      // Far from 100 leaves: it was sealed for its age, not before.
      expect(await waited(1)).toBeGreaterThanOrEqual(1000);
    });

    it('BATCH_MAX_LEAVES: full batches seal at once, the remainder when it is old enough', async (t) => {
      if (skip) return t.skip(skip);
      const { apiKey } = await h!.verifiedMerchant('Size Shop');
      await registerMany(h!, apiKey, 'size-a', 250);
      await waitFor('all 250 anchored', allFinal);
      const batches = await db()
        .selectFrom('batches')
        .select(['id', 'leaf_count'])
        .where('id', '>', 1)
        .orderBy('id')
        .execute();
      expect(batches).toEqual([
        { id: 2, leaf_count: 100 },
        { id: 3, leaf_count: 100 },
        { id: 4, leaf_count: 50 },
      ]);
      // The full ones did not wait for the age limit; the remainder did.
      expect(await waited(2)).toBeLessThan(1000);
      expect(await waited(4)).toBeGreaterThanOrEqual(1000);
    });

    it('a large pending set sealed on demand is split to the limit, oldest first', async (t) => {
      if (skip) return t.skip(skip);
      const { apiKey } = await h!.verifiedMerchant('Demand Shop');
      await registerMany(h!, apiKey, 'size-b', 180);
      const sealed = await h!.admin('POST', '/v1/admin/batches/seal');
      expect(sealed.statusCode).toBe(200);
      // 180 were waiting, but the loop may have sealed a full 100 of them first.
      const counts = sealed.json().batches.map((b: { leafCount: number }) => b.leafCount);
      expect(counts.length).toBeGreaterThanOrEqual(1);
      expect(counts.every((n: number) => n <= 100)).toBe(true);
      await waitFor('all anchored', allFinal);

      const all = await db().selectFrom('batches').select(['id', 'leaf_count']).orderBy('id').execute();
      expect(all.slice(4).map((b) => b.leaf_count)).toEqual([100, 80]);
      expect(all.reduce((n, b) => n + b.leaf_count, 0)).toBe(431);
      await expectBatchesPartitionEvents(h!.runtime.services.ctx, db());
      // Oldest first: every event of a batch is no younger than any event of an earlier batch.
      const spans = [];
      for (const b of all) {
        spans.push(
          await db()
            .selectFrom('events')
            .select((eb) => [eb.fn.min('created_at').as('oldest'), eb.fn.max('created_at').as('newest')])
            .where('batch_id', '=', b.id)
            .executeTakeFirstOrThrow(),
        );
      }
      for (let i = 1; i < spans.length; i++) expect(spans[i]!.oldest >= spans[i - 1]!.newest).toBe(true);
      const last = await db()
        .selectFrom('records')
        .select('id')
        .where('external_id', '=', 'size-b-179')
        .executeTakeFirstOrThrow();
      expect((await h!.call('GET', `/v1/verify/${last.id}`)).json().verdict).toBe('genuine');
    });
  },
);
