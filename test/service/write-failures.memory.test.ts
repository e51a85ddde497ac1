/**
 * Every write the service makes, failed on purpose, after Sunlight's failLockAndNotPersist /
 * failLockButPersist: BEFORE it persists (the caller sees an error and nothing changed; a retry
 * gives exactly what a run without the fault gives) and AFTER it persists (the caller sees an error
 * but the write is durable; what comes next must notice it and not do it twice). What holds here is
 * "commit before publishing, repair on load" for the service's own logic; the batcher's writes are
 * in test/batcher/anchorer.memory.test.ts and batcher.memory.test.ts.
 *
 * Two writes cannot notice a repeat: an event and a strike carry no idempotency key, so a caller
 * that retries one after an ambiguous failure records it twice. Those cases pin what happens.
 */
import { sealBatch } from '../../src/service/sealing.ts';
import { describe, expect, it } from 'vitest';
import { MerkleTree } from '../../src/core/index.ts';
import type { ServiceContext } from '../../src/service/context.ts';
import { authenticateMerchant, rotateKey, strikeMerchant } from '../../src/service/merchants.ts';
import { appendEvent } from '../../src/service/record-events.ts';
import { registerRecords } from '../../src/service/registration.ts';
import {
  InjectedStorageFailure,
  type FaultOperation,
  type FaultTiming,
} from '../../src/storage/memory/faults.ts';
import type { MemoryStorage } from '../../src/storage/memory/memory-storage.ts';
import { memoryService, verifiedMerchant } from '../helpers/memory-context.ts';
import { outcome } from '../helpers/outcome.ts';
import { recordBody } from '../helpers/records.ts';

/** Arms one failure, runs `call`, and checks it failed with exactly that injected failure. */
async function failOnce(
  storage: MemoryStorage,
  operation: FaultOperation,
  when: FaultTiming,
  call: () => Promise<unknown>,
): Promise<void> {
  storage.faults.failNext(operation, when);
  const err = await call().then(
    () => new Error(`${operation} ${when}: the call succeeded`),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InjectedStorageFailure);
  expect(err).toMatchObject({ operation, when });
  expect(storage.faults.pending().size).toBe(0);
}

/** Failures that leave nothing behind: any call inside the transaction, or the commit, refused. */
const refusedBeforePersisting = (inside: FaultOperation[]) => [
  ...inside.flatMap((op) =>
    (['before-persist', 'after-persist'] as const).map((when) => [op, when] as const),
  ),
  ['commit', 'before-persist'] as const,
];

/** What the store holds for these records: everything but the random ids and salts. */
async function holdings(ctx: ServiceContext, merchantId: string, externalIds: string[]) {
  const records = await ctx.storage.records.byExternalIds(merchantId, externalIds);
  return {
    records: await Promise.all(
      records
        .sort((a, b) => a.external_id.localeCompare(b.external_id))
        .map(async (r) => ({
          externalId: r.external_id,
          head: [r.head_seq, r.state, r.sold, r.activated],
          events: (await ctx.storage.events.ofRecord(r.id)).map((e) => [e.seq, e.type, e.batch_id]),
        })),
    ),
    waiting: (await ctx.storage.events.unbatched(1000)).count,
    nextBatch: await ctx.storage.batches.nextId(),
  };
}

describe('registration writes failing on the memory store', () => {
  const body = [recordBody('w-1', { secret: 'S' }), recordBody('w-2')];

  /** What a registration of `body` leaves when nothing fails. */
  async function withoutFault() {
    const { ctx } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    const result = await registerRecords(ctx, merchant, body);
    return { created: result.created, held: await holdings(ctx, merchant.id, ['w-1', 'w-2']) };
  }

  it.each(refusedBeforePersisting(['records.byExternalIds', 'records.insertMany', 'events.insertMany']))(
    '%s %s: nothing is written; a retry registers exactly as without the fault',
    async (operation, when) => {
      const { ctx, storage } = memoryService();
      const { merchant } = await verifiedMerchant(ctx);
      await failOnce(storage, operation, when, () => registerRecords(ctx, merchant, body));
      expect(await holdings(ctx, merchant.id, ['w-1', 'w-2'])).toEqual({
        records: [],
        waiting: 0,
        nextBatch: 1,
      });
      const retry = await registerRecords(ctx, merchant, body);
      expect({ created: retry.created, held: await holdings(ctx, merchant.id, ['w-1', 'w-2']) }).toEqual(
        await withoutFault(),
      );
    },
  );

  it('commit after-persist: the records are stored; a retry answers as a replay with the same ids', async () => {
    const { ctx, storage } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    await failOnce(storage, 'commit', 'after-persist', () => registerRecords(ctx, merchant, body));
    const stored = await storage.records.byExternalIds(merchant.id, ['w-1', 'w-2']);
    expect(stored).toHaveLength(2);
    const retry = await registerRecords(ctx, merchant, body);
    expect(retry.created).toBe(0);
    expect(retry.records.map((r) => r.id).sort()).toEqual(stored.map((r) => r.id).sort());
    expect(await holdings(ctx, merchant.id, ['w-1', 'w-2'])).toEqual((await withoutFault()).held);
  });
});

describe('event appends failing on the memory store', () => {
  async function issued() {
    const service = memoryService();
    const { merchant } = await verifiedMerchant(service.ctx);
    const [record] = (await registerRecords(service.ctx, merchant, [recordBody('e-1')])).records;
    return { ...service, merchant, id: record!.id };
  }

  it.each(
    refusedBeforePersisting(['records.get', 'events.leafAt', 'events.insertMany', 'records.advanceHead']),
  )(
    '%s %s: no event and the head unchanged; a retry appends it as without the fault',
    async (operation, when) => {
      const { ctx, storage, merchant, id } = await issued();
      const before = await storage.records.get(id);
      await failOnce(storage, operation, when, () => appendEvent(ctx, merchant, id, 'sold', undefined));
      expect(await storage.records.get(id)).toEqual(before);
      expect(await storage.events.ofRecord(id)).toHaveLength(1);
      const event = await appendEvent(ctx, merchant, id, 'sold', undefined);
      const events = await storage.events.ofRecord(id);
      expect(events.map((e) => [e.seq, e.type])).toEqual([
        [0, 'issued'],
        [1, 'sold'],
      ]);
      expect(event.prev_leaf).toBe(events[0]!.leaf);
      expect(await storage.records.get(id)).toMatchObject({ head_seq: 1, sold: 1 });
    },
  );

  it('commit after-persist: the event is stored; a retried sale is refused by the lifecycle, so it is in once', async () => {
    const { ctx, storage, merchant, id } = await issued();
    await failOnce(storage, 'commit', 'after-persist', () =>
      appendEvent(ctx, merchant, id, 'sold', undefined),
    );
    expect(await storage.records.get(id)).toMatchObject({ head_seq: 1, sold: 1 });
    expect(await outcome(appendEvent(ctx, merchant, id, 'sold', undefined))).toBe('409 lifecycle_violation');
    expect((await storage.events.ofRecord(id)).map((e) => e.type)).toEqual(['issued', 'sold']);
  });

  it('commit after-persist: a retried transfer has no key to be recognised by, and is recorded twice', async () => {
    const { ctx, storage, merchant, id } = await issued();
    await failOnce(storage, 'commit', 'after-persist', () =>
      appendEvent(ctx, merchant, id, 'transferred', { to: 'x' }),
    );
    await appendEvent(ctx, merchant, id, 'transferred', { to: 'x' });
    const events = await storage.events.ofRecord(id);
    expect(events.map((e) => e.type)).toEqual(['issued', 'transferred', 'transferred']);
    // Twice, but chained: the record's history stays one unbroken chain.
    expect(events[2]!.prev_leaf).toBe(events[1]!.leaf);
  });
});

describe('sealing failing on the memory store', () => {
  async function waiting(n: number) {
    const service = memoryService();
    const { merchant } = await verifiedMerchant(service.ctx);
    const inputs = Array.from({ length: n }, (_, i) => recordBody(`s-${i}`));
    const ids = (await registerRecords(service.ctx, merchant, inputs)).records.map((r) => r.id);
    return { ...service, merchant, ids };
  }

  /** Every event's batch, and each batch's stored leaves rebuilding its root. */
  async function sealedState(ctx: ServiceContext, ids: string[]) {
    const batches = await ctx.storage.batches.list(0, 100);
    for (const b of batches) {
      expect(MerkleTree.fromPacked(await ctx.storage.batches.leaves(b.id)).root).toBe(b.root);
    }
    const events = (await Promise.all(ids.map((id) => ctx.storage.events.ofRecord(id)))).flat();
    return {
      batches: batches.map((b) => [b.id, b.leaf_count, b.status]),
      events: events.map((e) => e.batch_id),
    };
  }

  it.each(
    refusedBeforePersisting(['batches.nextId', 'events.assignOldestUnbatched', 'batches.insertSealed']),
  )(
    '%s %s: no batch, every event still waits; a retry seals them all as batch 1',
    async (operation, when) => {
      const { ctx, storage, ids } = await waiting(5);
      await failOnce(storage, operation, when, () => sealBatch(ctx, 100));
      expect(await sealedState(ctx, ids)).toEqual({ batches: [], events: [null, null, null, null, null] });
      expect(await storage.events.unbatched(100)).toMatchObject({ count: 5 });
      const batch = await sealBatch(ctx, 100);
      expect(batch).toMatchObject({ id: 1, leaf_count: 5, status: 'sealed' });
      expect(await sealedState(ctx, ids)).toEqual({ batches: [[1, 5, 'sealed']], events: [1, 1, 1, 1, 1] });
    },
  );

  it('commit after-persist: the batch is stored; the next seal finds nothing to seal, never the same events again', async () => {
    const { ctx, storage, merchant, ids } = await waiting(5);
    await failOnce(storage, 'commit', 'after-persist', () => sealBatch(ctx, 100));
    expect(await sealedState(ctx, ids)).toEqual({ batches: [[1, 5, 'sealed']], events: [1, 1, 1, 1, 1] });
    expect(await sealBatch(ctx, 100)).toBeNull();
    const [late] = (await registerRecords(ctx, merchant, [recordBody('late')])).records;
    expect(await sealBatch(ctx, 100)).toMatchObject({ id: 2, leaf_count: 1 });
    expect(await sealedState(ctx, [...ids, late!.id])).toEqual({
      batches: [
        [1, 5, 'sealed'],
        [2, 1, 'sealed'],
      ],
      events: [1, 1, 1, 1, 1, 2],
    });
  });
});

describe('strikes failing on the memory store', () => {
  it.each(refusedBeforePersisting(['merchants.strikes', 'merchants.addStrike']))(
    'first strike, %s %s: no strike; a retry warns as without the fault',
    async (operation, when) => {
      const { ctx, storage } = memoryService();
      const { merchant } = await verifiedMerchant(ctx);
      await failOnce(storage, operation, when, () => strikeMerchant(ctx, merchant.id, 'late delivery'));
      expect(await storage.merchants.strikes(merchant.id)).toEqual([]);
      const profile = await strikeMerchant(ctx, merchant.id, 'late delivery');
      expect(profile).toMatchObject({
        status: 'verified',
        // Issue 13: the reason stays with the operator (merchants.strikes keeps it).
        strikes: [{ number: 1 }],
      });
      expect((await storage.merchants.strikes(merchant.id)).map((s) => s.reason)).toEqual(['late delivery']);
    },
  );

  it.each(refusedBeforePersisting(['merchants.addStrike', 'merchants.update', 'merchants.revokeKeys']))(
    'second strike, %s %s: not suspended, no second strike, the key still works; a retry suspends',
    async (operation, when) => {
      const { ctx, storage } = memoryService();
      const { merchant, apiKey } = await verifiedMerchant(ctx);
      await strikeMerchant(ctx, merchant.id, 'one');
      await failOnce(storage, operation, when, () => strikeMerchant(ctx, merchant.id, 'two'));
      expect((await storage.merchants.get(merchant.id))!.status).toBe('verified');
      expect((await storage.merchants.strikes(merchant.id)).length).toBe(1);
      expect((await authenticateMerchant(ctx, apiKey)).id).toBe(merchant.id);
      expect(await strikeMerchant(ctx, merchant.id, 'two')).toMatchObject({ status: 'suspended' });
      expect(await outcome(authenticateMerchant(ctx, apiKey))).toBe('401 unauthorized');
    },
  );

  it('commit after-persist: the warning is stored; a retried strike has no key to be recognised by and suspends', async () => {
    const { ctx, storage } = memoryService();
    const { merchant } = await verifiedMerchant(ctx);
    await failOnce(storage, 'commit', 'after-persist', () => strikeMerchant(ctx, merchant.id, 'once'));
    expect((await storage.merchants.strikes(merchant.id)).map((s) => s.reason)).toEqual(['once']);
    expect(await strikeMerchant(ctx, merchant.id, 'once')).toMatchObject({ status: 'suspended' });
  });
});

describe('key rotation failing on the memory store', () => {
  it.each(refusedBeforePersisting(['merchants.revokeKeys', 'merchants.insertKey']))(
    '%s %s: the old key still works; a retry rotates',
    async (operation, when) => {
      const { ctx, storage } = memoryService();
      const { merchant, apiKey } = await verifiedMerchant(ctx);
      await failOnce(storage, operation, when, () => rotateKey(ctx, merchant.id));
      expect((await authenticateMerchant(ctx, apiKey)).id).toBe(merchant.id);
      const { apiKey: fresh } = await rotateKey(ctx, merchant.id);
      expect((await authenticateMerchant(ctx, fresh)).id).toBe(merchant.id);
      expect(await outcome(authenticateMerchant(ctx, apiKey))).toBe('401 unauthorized');
    },
  );

  it('commit after-persist: the old key is revoked and the new one was never shown; a retry gives a working key', async () => {
    const { ctx, storage } = memoryService();
    const { merchant, apiKey } = await verifiedMerchant(ctx);
    await failOnce(storage, 'commit', 'after-persist', () => rotateKey(ctx, merchant.id));
    expect(await outcome(authenticateMerchant(ctx, apiKey))).toBe('401 unauthorized');
    const { apiKey: fresh } = await rotateKey(ctx, merchant.id);
    expect((await authenticateMerchant(ctx, fresh)).id).toBe(merchant.id);
  });
});
