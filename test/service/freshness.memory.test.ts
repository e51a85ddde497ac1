/**
 * The seal keeps the item directory (sealBatch extends it in the batch's transaction), and core's
 * freshness check over it, on random histories in memory: at every batch each record's latest event
 * is current, every earlier one superseded, a proof from the batch before is refused as stale once
 * the record changed, an absent record is never current, and the state-proof document says the same.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkFreshness,
  recordKey,
  type DirectoryValue,
  type Hex,
  type StateProofDocument,
} from '../../src/core/index.ts';
import { createServiceContext, type ServiceContext } from '../../src/service/context.ts';
import { stateProof } from '../../src/service/directory.ts';
import { sealBatch } from '../../src/service/sealing.ts';
import { asStateProofDocument } from '../../src/service/state-proofs.ts';
import { ServerKey } from '../../src/service/server-key.ts';
import { MemoryStorage } from '../../src/storage/memory/memory-storage.ts';
import { DirectoryHistory, type Step } from './directory-history.ts';

const numRuns = Number(process.env.FC_NUM_RUNS ?? (process.env.CI ? 40 : 12));

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('register' as const), count: fc.integer({ min: 1, max: 5 }) }),
  fc.record({
    kind: fc.constant('event' as const),
    pick: fc.nat(),
    type: fc.constantFrom('sold', 'activated', 'revoked', 'refunded'),
  }),
  fc.record({ kind: fc.constant('seal' as const), maxLeaves: fc.integer({ min: 1, max: 10 }) }),
);

function contextOver(storage: MemoryStorage): ServiceContext {
  return createServiceContext({
    storage,
    keys: ServerKey.generate(),
    now: () => new Date('2025-01-01T00:00:00.000Z'),
    publicBaseUrl: 'http://proofmark.test',
    scanFlushMs: 3_600_000,
  });
}

async function documentFor(
  ctx: ServiceContext,
  recordId: string,
  batchId: number,
): Promise<StateProofDocument> {
  return asStateProofDocument(recordId, await stateProof(ctx, recordId, batchId), null);
}

const asEvent = (recordId: string, v: DirectoryValue) => ({ recordId, seq: v.seq, leaf: v.leaf });

describe('freshness over the directory the seal keeps', () => {
  it(`judges every record at every batch (${numRuns} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 30 }), async (steps) => {
        const storage = new MemoryStorage();
        const ctx = contextOver(storage);
        const history = new DirectoryHistory(storage, (_s, maxLeaves) =>
          sealBatch(ctx, maxLeaves).then((b) => b && { batchId: b.id }),
        );
        await history.run(steps);
        // The real seal's directory is the reference's, batch by batch.
        await history.check();

        for (const [batchId, model] of history.versions) {
          const batch = (await storage.batches.get(batchId))!;
          const version = (await storage.directory.get(batchId))!;
          expect(batch.state_root).toBe(version.root);
          const anchored = { batchId, stateRoot: version.root as Hex };
          const before = history.versions.get(batchId - 1);
          for (const id of history.recordIds) {
            const doc = await documentFor(ctx, id, batchId);
            const now = model.get(recordKey(id));
            if (!now) {
              // Not yet in any batch: nothing about it can be called current.
              const made = { recordId: id, seq: 0, leaf: `0x${'11'.repeat(32)}` as Hex };
              expect(checkFreshness(made, anchored, doc).status).toBe('unconfirmed');
              continue;
            }
            expect(checkFreshness(asEvent(id, now), anchored, doc)).toEqual({
              status: 'current',
              batchId,
              value: now,
            });
            const earlier = before?.get(recordKey(id));
            if (earlier && earlier.seq !== now.seq) {
              expect(checkFreshness(asEvent(id, earlier), anchored, doc)).toMatchObject({
                status: 'superseded',
                value: now,
              });
              // The service answering with the batch before's proof: stale, never current.
              const stale = await documentFor(ctx, id, batchId - 1);
              expect(checkFreshness(asEvent(id, earlier), anchored, stale).status).toBe('unconfirmed');
              const relabelled = { ...stale, batchId, stateRoot: anchored.stateRoot };
              expect(checkFreshness(asEvent(id, earlier), anchored, relabelled).status).toBe('unconfirmed');
            }
          }
        }
      }),
      { numRuns },
    );
  });
});

describe('checkFreshness refuses what an untrusted service may send', () => {
  it('no answer, a malformed one, another record, another batch, a flipped byte', async () => {
    const storage = new MemoryStorage();
    const ctx = contextOver(storage);
    const history = new DirectoryHistory(storage, (_s, maxLeaves) =>
      sealBatch(ctx, maxLeaves).then((b) => b && { batchId: b.id }),
    );
    await history.run([
      { kind: 'register', count: 3 },
      { kind: 'seal', maxLeaves: 10 },
      { kind: 'event', pick: 0, type: 'revoked' },
      { kind: 'seal', maxLeaves: 10 },
    ]);
    const [first, second] = history.recordIds;
    const root = (await storage.directory.get(2))!.root as Hex;
    const anchored = { batchId: 2, stateRoot: root };
    const doc = await documentFor(ctx, first!, 2);
    const latest = doc.value!;
    const event = asEvent(first!, latest);
    expect(latest.ended).toBe(true);
    expect(checkFreshness(event, anchored, doc).status).toBe('current');

    const unconfirmed = (answer: unknown) => checkFreshness(event, anchored, answer).status;
    expect(unconfirmed(null)).toBe('unconfirmed');
    expect(unconfirmed({ ...doc, format: 'proofmark.state.v0' })).toBe('unconfirmed');
    expect(unconfirmed(await documentFor(ctx, second!, 2))).toBe('unconfirmed');
    expect(unconfirmed({ ...doc, batchId: 1 })).toBe('unconfirmed');
    expect(unconfirmed({ ...doc, value: { ...latest, ended: false } })).toBe('unconfirmed');
    // Every byte of the proof matters.
    const bytes = doc.proof.slice(2);
    for (let i = 0; i < bytes.length; i += 2) {
      const flipped = (parseInt(bytes.slice(i, i + 2), 16) ^ 0x01).toString(16).padStart(2, '0');
      const proof = `0x${bytes.slice(0, i)}${flipped}${bytes.slice(i + 2)}` as Hex;
      expect(unconfirmed({ ...doc, proof }), `byte ${i / 2}`).toBe('unconfirmed');
    }
  });
});
