/**
 * The directory service (src/service/directory.ts) on the memory store: random histories proved at
 * every batch, catching up a database that sealed without a directory, and what it refuses.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EMPTY_DIRECTORY_ROOT,
  recordKey,
  verifyDirectoryProof,
  type DirectoryPageKey,
} from '../../src/core/index.ts';
import { catchUpDirectory, stateProof, updateDirectory } from '../../src/service/directory.ts';
import { ServiceError } from '../../src/service/errors.ts';
import { DuplicateKeyError } from '../../src/storage/errors.ts';
import { MemoryStorage } from '../../src/storage/memory/memory-storage.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { seal, seedRecords } from '../storage/fixtures.ts';
import { DirectoryHistory, sealWithDirectory, type Step } from './directory-history.ts';

const numRuns = Number(process.env.FC_NUM_RUNS ?? (process.env.CI ? 60 : 15));

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('register' as const), count: fc.integer({ min: 1, max: 6 }) }),
  fc.record({
    kind: fc.constant('event' as const),
    pick: fc.nat(),
    type: fc.constantFrom('sold', 'activated', 'transferred', 'revoked', 'refunded'),
  }),
  fc.record({ kind: fc.constant('seal' as const), maxLeaves: fc.integer({ min: 1, max: 12 }) }),
);

describe('the directory service over random histories', () => {
  it(`proves every record's state at every batch, from storage (${numRuns} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 40 }), async (steps) => {
        const history = new DirectoryHistory(new MemoryStorage());
        await history.run(steps);
        await history.check();
      }),
      { numRuns },
    );
  }, 600_000);
});

describe('catching up', () => {
  const steps: Step[] = [
    { kind: 'register', count: 5 },
    { kind: 'seal', maxLeaves: 3 },
    { kind: 'event', pick: 1, type: 'sold' },
    { kind: 'event', pick: 1, type: 'revoked' },
    { kind: 'register', count: 2 },
    { kind: 'seal', maxLeaves: 4 },
    { kind: 'event', pick: 0, type: 'activated' },
  ];

  it('builds the versions a database sealed without, equal to sealing with the directory', async () => {
    const withDirectory = new DirectoryHistory(new MemoryStorage());
    await withDirectory.run(steps);
    const plain = new MemoryStorage();
    const without = new DirectoryHistory(plain, (s, maxLeaves) =>
      seal(s, maxLeaves).then((b) => b && { batchId: b.id }),
    );
    await without.run(steps);
    expect(await plain.directory.latest()).toBeUndefined();

    expect(await catchUpDirectory({ storage: plain })).toBe(3);
    expect(await catchUpDirectory({ storage: plain })).toBe(0);
    for (const batchId of [1, 2, 3]) {
      expect(await plain.directory.get(batchId)).toEqual(await withDirectory.storage.directory.get(batchId));
    }
    await without.check();
  });

  it('refuses to apply a batch to a directory that is behind, or twice', async () => {
    const storage = new MemoryStorage();
    await seedRecords(storage, 'm1', ['ra', 'rb']);
    await seal(storage, 1);
    await seal(storage, 1);
    const batch2 = await storage.events.ofBatch(2);
    await expect(storage.transaction((tx) => updateDirectory(tx, 2, batch2))).rejects.toThrow(
      /directory is at batch 0, so it cannot take batch 2: run catchUpDirectory/,
    );
    expect(await catchUpDirectory({ storage })).toBe(2);
    await expect(storage.transaction((tx) => updateDirectory(tx, 2, batch2))).rejects.toThrow(
      /cannot take batch 2/,
    );
    await expect(storage.transaction((tx) => updateDirectory(tx, 3, []))).rejects.toThrow(/has no events/);
  });

  it('lets one of two catch-ups racing on a version win; the other fails with DuplicateKeyError', async () => {
    const storage = new MemoryStorage();
    await seedRecords(storage, 'm1', ['ra']);
    await seal(storage, 1);
    const events = await storage.events.ofBatch(1);
    // Both read version 0 as the latest; the memory store runs them one after the other, so the
    // second sees version 1 and is refused by the version check, as a racing SQL insert is by its key.
    const results = await Promise.allSettled([
      storage.transaction((tx) => updateDirectory(tx, 1, events)),
      storage.transaction((tx) => updateDirectory(tx, 1, events)),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    await expect(
      storage.directory.insertVersion({ version: 1, root: EMPTY_DIRECTORY_ROOT, record_count: 0 }, []),
    ).rejects.toBeInstanceOf(DuplicateKeyError);
  });
});

describe('state proofs', () => {
  it('404s before any batch, and for a batch the directory has not got', async () => {
    const storage = new MemoryStorage();
    const none = await stateProof({ storage }, 'ra').catch((err: unknown) => err);
    expect(none).toBeInstanceOf(ServiceError);
    expect(none).toMatchObject({ statusCode: 404, code: 'batch_not_found' });
    await seedRecords(storage, 'm1', ['ra']);
    await sealWithDirectory(storage, 10);
    await expect(stateProof({ storage }, 'ra', 2)).rejects.toMatchObject({ statusCode: 404 });
    const proved = await stateProof({ storage }, 'ra');
    expect(proved.batchId).toBe(1);
    expect(verifyDirectoryProof(proved.root, recordKey('ra'), proved.proof).status).toBe('present');
  });

  it('fails, serving nothing, when a page on the path cannot be read', async () => {
    const storage = new MemoryStorage();
    const ids = Array.from({ length: 40 }, (_, i) => `r${String(i).padStart(2, '0')}`);
    await seedRecords(storage, 'm1', ids);
    await sealWithDirectory(storage, 100);
    // Every page but the root is lost: a record whose key shares its first digit with another's
    // sits in a page below the root.
    const firstDigit = (id: string) => recordKey(id)[2];
    const below = ids.find((id) =>
      ids.some((other) => other !== id && firstDigit(other) === firstDigit(id)),
    )!;
    const damaged = {
      storage: {
        ...storage,
        directory: {
          ...storage.directory,
          pages: async (keys: readonly DirectoryPageKey[]) => {
            if (keys.some((k) => k.path !== '')) throw new Error('directory page lost');
            return storage.directory.pages(keys);
          },
        },
      } as unknown as Storage,
    };
    await expect(stateProof(damaged, below)).rejects.toThrow(/directory page lost/);
    expect((await stateProof({ storage }, below)).state).not.toBeNull();
  });
});
