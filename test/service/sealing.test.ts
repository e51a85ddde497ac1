/**
 * Sealing in steps through the service (sealBatch), on every backend: a batch larger than one step
 * is sealed whole and exactly; a seal stopped halfway stays invisible and the next seal completes
 * it; one sealer at a time; the tree of a large batch comes from the worker thread.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex, MerkleTree, NODE_SIZE } from '../../src/core/index.ts';
import { createServiceContext, type ServiceContext } from '../../src/service/context.ts';
import { stateProof } from '../../src/service/directory.ts';
import {
  FIRST_STEP_LEAVES,
  sealBatch,
  SealerBusyError,
  SealerLostError,
  SEALER_LEASE,
  SEALER_LEASE_MS,
} from '../../src/service/sealing.ts';
import { ServerKey } from '../../src/service/server-key.ts';
import { TreeBuilder } from '../../src/service/tree-builder.ts';
import { MemoryStorage } from '../../src/storage/memory/memory-storage.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { openStorage } from '../../src/storage/sql/open.ts';
import { BACKENDS, createTestDatabase, postgresSkipReason, type TestDatabase } from '../helpers/databases.ts';
import { at, seedRecords } from '../storage/fixtures.ts';
import { DirectoryHistory, type Step } from './directory-history.ts';

const EVENTS = 3 * FIRST_STEP_LEAVES + 123;

function contextOn(storage: Storage, trees?: TreeBuilder): ServiceContext {
  return createServiceContext({
    storage,
    keys: ServerKey.generate(),
    publicBaseUrl: 'http://proofmark.test',
    ...(trees && { trees }),
  });
}

/** `count` records with one issuance event each, created one millisecond apart. */
async function seedEvents(storage: Storage, prefix: string, count: number): Promise<void> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(6, '0')}`);
  for (let i = 0; i < ids.length; i += 1000) {
    await storage.transaction((tx) => seedRecords(tx, 'm1', ids.slice(i, i + 1000), at(i / 1000)));
  }
}

/** Batch `id`'s leaves, read from its events in leaf order, are exactly what its root was built from. */
async function expectWhole(storage: Storage, id: number, leafCount: number): Promise<void> {
  const batch = await storage.batches.get(id);
  expect(batch).toMatchObject({ id, leaf_count: leafCount, status: 'sealed' });
  const fromEvents = await storage.events.batchLeaves(id, 0, leafCount + 1);
  expect(fromEvents.length).toBe(leafCount * NODE_SIZE);
  expect(MerkleTree.fromPacked(fromEvents).root).toBe(batch!.root);
  expect(bytesToHex(await storage.batches.leaves(id))).toBe(bytesToHex(fromEvents));
}

type Opened = { storage: Storage; drop(): Promise<void> };

const RUNNERS: [string, () => Promise<Opened | string>][] = [
  ['memory', async () => ({ storage: new MemoryStorage(), drop: async () => {} })],
  ...BACKENDS.map((backend): [string, () => Promise<Opened | string>] => [
    backend,
    async () => {
      const skip = backend === 'postgres' ? await postgresSkipReason() : null;
      if (skip) return skip;
      const database: TestDatabase = await createTestDatabase(backend);
      const storage = await openStorage({ databaseUrl: database.databaseUrl, dataDir: database.dataDir });
      return {
        storage,
        drop: async () => {
          await storage.close();
          await database.drop();
        },
      };
    },
  ]),
];

describe.each(RUNNERS)('sealing in steps (%s)', (_name, open) => {
  let opened: Opened | string;
  const trees = new TreeBuilder();
  beforeAll(async () => {
    opened = await open();
  });
  afterAll(async () => {
    await trees.close();
    if (typeof opened !== 'string') await opened.drop();
  });

  it('seals more than one step of events as one batch, in the order they wait', async (t) => {
    if (typeof opened === 'string') return t.skip(opened);
    const { storage } = opened;
    await seedEvents(storage, 'a', EVENTS);
    const batch = await sealBatch(contextOn(storage, trees), 1_000_000);
    expect(batch).toMatchObject({ id: 1, leaf_count: EVENTS });
    await expectWhole(storage, 1, EVENTS);
    // Oldest first: leaf i is record a-i.
    expect(await storage.events.createdAtOfLeaves(1, [0, 1000, EVENTS - 1])).toEqual([
      at(0),
      at(1),
      at(Math.floor((EVENTS - 1) / 1000)),
    ]);
    expect(await storage.events.unbatched(10)).toEqual({ count: 0, oldestAt: null });
    expect(await sealBatch(contextOn(storage, trees), 1_000_000)).toBeNull();
  });

  it('a seal stopped after its first step stays invisible; the next seal completes it', async (t) => {
    if (typeof opened === 'string') return t.skip(opened);
    const { storage } = opened;
    await seedEvents(storage, 'b', EVENTS);
    const ctx = contextOn(storage, trees);
    const died = new Error('the sealer died');
    await expect(
      sealBatch(ctx, 1_000_000, {
        afterStep: () => {
          throw died;
        },
      }),
    ).rejects.toBe(died);
    const open = await storage.batches.openSeal();
    expect(open).toEqual({ id: 2, leaf_count: FIRST_STEP_LEAVES });
    expect(await storage.batches.get(2)).toBeUndefined();
    // Batch 1 (sealed, not final) and the open seal's leaves alike await final; the rest wait unbatched.
    expect(await storage.events.countAwaitingFinal()).toBe(2 * EVENTS);

    // While another sealer holds the lease, nobody else seals.
    const other = await storage.leases.acquire(SEALER_LEASE, 'another-instance', SEALER_LEASE_MS, Date.now());
    expect(other).not.toBeNull();
    await expect(sealBatch(ctx, 1_000_000)).rejects.toBeInstanceOf(SealerBusyError);
    await storage.leases.release(other!);

    // The next seal takes the open one up first, and fills it to its size.
    const batch = await sealBatch(ctx, EVENTS - 100);
    expect(batch).toMatchObject({ id: 2, leaf_count: EVENTS - 100 });
    await expectWhole(storage, 2, EVENTS - 100);
    expect(await sealBatch(ctx, 1_000_000)).toMatchObject({ id: 3, leaf_count: 100 });
    await expectWhole(storage, 3, 100);
    expect(await storage.batches.openSeal()).toBeUndefined();
  });

  it('a seal that dies or loses its lease while staging its directory shows none of it; the next completes it', async (t) => {
    const fresh = await open();
    if (typeof fresh === 'string') return t.skip(fresh);
    try {
      const { storage } = fresh;
      const ctx = contextOn(storage, trees);
      const records = FIRST_STEP_LEAVES + 500;
      /** Nothing of batch 2 shows: no batch, the directory still at batch 1, proofs as of batch 1. */
      const expectBatch2Unseen = async () => {
        expect(await storage.batches.get(2)).toBeUndefined();
        expect((await storage.directory.latest())?.version).toBe(1);
        expect((await stateProof(ctx, 'r00001')).batchId).toBe(1);
        // Yet its pages were staged (the root page first).
        expect(await storage.directory.pages([{ version: 2, path: '' }])).toHaveLength(1);
      };
      let interrupted = false;
      const history = new DirectoryHistory(storage, async (_storage, maxLeaves) => {
        if ((await storage.batches.nextId()) === 2 && !interrupted) {
          interrupted = true;
          // A sealer dies after staging part of the directory of a smaller batch...
          const died = new Error('the sealer died');
          let staged = 0;
          await expect(
            sealBatch(ctx, maxLeaves - 700, {
              afterDirectoryStep: (step) => {
                if (step === 'staged' && ++staged === 2) throw died;
              },
            }),
          ).rejects.toBe(died);
          await expectBatch2Unseen();
          // ...the next takes it up, and its lease passes on while it stages...
          staged = 0;
          await expect(
            sealBatch(ctx, maxLeaves - 300, {
              afterDirectoryStep: async (step) => {
                if (step !== 'staged' || ++staged !== 1) return;
                const later = Date.now() + 2 * SEALER_LEASE_MS;
                const thief = await storage.leases.acquire(SEALER_LEASE, 'another-instance', 1, later);
                expect(thief).not.toBeNull();
                await storage.leases.release(thief!);
              },
            }),
          ).rejects.toBeInstanceOf(SealerLostError);
          await expectBatch2Unseen();
        }
        // ...and the one after completes it, the directory as if nothing had happened.
        const batch = await sealBatch(ctx, maxLeaves);
        return batch && { batchId: batch.id };
      });
      const steps: Step[] = [
        { kind: 'register', count: records },
        { kind: 'seal', maxLeaves: records },
        ...Array.from({ length: records }, (_, i): Step => ({
          kind: 'event',
          pick: 3 * i,
          type: i % 7 ? 'sold' : 'revoked',
        })),
        { kind: 'register', count: 1000 },
        { kind: 'seal', maxLeaves: 2 * records },
      ];
      await history.run(steps);
      expect(interrupted).toBe(true);
      expect([...history.versions.keys()]).toEqual([1, 2]);
      expect(await storage.batches.openSeal()).toBeUndefined();
      await history.check(history.recordIds.filter((_, i) => i % 37 === 0));
    } finally {
      await fresh.drop();
    }
  }, 600_000);
});
