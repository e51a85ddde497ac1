/**
 * Histories for the directory's service tests: records registered, events added (some ending their
 * record) and batches sealed, in any interleaving, on any storage. Sealing here is what the seal
 * does once the integrator adds the directory to it: in one transaction, the batch, then its
 * directory. The model remembers each batch's directory as the naive reference computes it.
 */
import { expect } from 'vitest';
import {
  endsRecord,
  MerkleTree,
  recordKey,
  verifyDirectoryProof,
  type DirectoryValue,
  type Hex,
} from '../../src/core/index.ts';
import { stateProof, updateDirectory } from '../../src/service/directory.ts';
import type { EventRow, RecordRow } from '../../src/storage/rows.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { referenceEncode, referenceProof, referenceRoot } from '../core/directory-reference.ts';
import { at, batchRow, eventRow, merchantRow, recordRow } from '../storage/fixtures.ts';

export type Step =
  | { kind: 'register'; count: number }
  | { kind: 'event'; pick: number; type: string }
  | { kind: 'seal'; maxLeaves: number };

/** Seals the oldest waiting events (at most `maxLeaves`) with the directory; null if none wait. */
export async function sealWithDirectory(
  storage: Storage,
  maxLeaves: number,
): Promise<{ batchId: number; stateRoot: Hex } | null> {
  return storage.transaction(async (tx) => {
    const batchId = await tx.batches.nextId();
    const leaves = await tx.events.assignOldestUnbatched(batchId, maxLeaves);
    if (leaves.length === 0) return null;
    const tree = MerkleTree.fromPacked(leaves);
    await tx.batches.insertSealed(batchRow(batchId, tree), tree);
    const stateRoot = await updateDirectory(tx, batchId, await tx.events.ofBatch(batchId));
    return { batchId, stateRoot };
  });
}

export class DirectoryHistory {
  readonly recordIds: string[] = [];
  /** The directory after each batch, by batch id, as plain maps the reference reads. */
  readonly versions = new Map<number, ReadonlyMap<Hex, DirectoryValue>>();
  private readonly heads = new Map<string, { seq: number; ended: boolean }>();
  private readonly waiting: EventRow[] = [];
  private readonly unsaved = { records: [] as RecordRow[], events: [] as EventRow[] };
  private clock = 0;

  constructor(
    readonly storage: Storage,
    private readonly seal: (
      storage: Storage,
      maxLeaves: number,
    ) => Promise<{ batchId: number } | null> = sealWithDirectory,
  ) {}

  async run(steps: readonly Step[]): Promise<void> {
    for (const step of steps) await this.step(step);
    while (this.waiting.length > 0 || this.unsaved.events.length > 0) {
      await this.step({ kind: 'seal', maxLeaves: 1000 });
    }
  }

  async step(step: Step): Promise<void> {
    // Each event gets its own created_at, strictly increasing, so the queue order is this order.
    if (step.kind === 'register') {
      for (let i = 0; i < step.count; i++) {
        const id = `r${String(this.recordIds.length + 1).padStart(5, '0')}`;
        this.recordIds.push(id);
        this.unsaved.records.push(recordRow(id, 'm1'));
        this.unsaved.events.push(eventRow(id, 0, at(this.clock++)));
        this.heads.set(id, { seq: 0, ended: false });
      }
    } else if (step.kind === 'event') {
      const open = this.recordIds.filter((id) => !this.heads.get(id)!.ended);
      if (open.length === 0) return;
      const id = open[step.pick % open.length]!;
      const head = this.heads.get(id)!;
      this.unsaved.events.push({ ...eventRow(id, head.seq + 1, at(this.clock++)), type: step.type });
      this.heads.set(id, { seq: head.seq + 1, ended: endsRecord(step.type) });
    } else {
      await this.save();
      const sealed = await this.seal(this.storage, step.maxLeaves);
      if (!sealed) return;
      const taken = this.waiting.splice(0, step.maxLeaves);
      const before = this.versions.get(sealed.batchId - 1) ?? new Map<Hex, DirectoryValue>();
      const after = new Map(before);
      for (const e of taken) {
        after.set(recordKey(e.record_id), { seq: e.seq, leaf: e.leaf as Hex, ended: endsRecord(e.type) });
      }
      this.versions.set(sealed.batchId, after);
    }
  }

  /** Stores the records and events the steps since the last seal made, in one insert each. */
  private async save(): Promise<void> {
    const { records, events } = this.unsaved;
    if (!(await this.storage.merchants.get('m1'))) await this.storage.merchants.insert(merchantRow('m1'));
    if (records.length > 0) await this.storage.records.insertMany(records.splice(0));
    if (events.length > 0) {
      await this.storage.events.insertMany(events);
      this.waiting.push(...events.splice(0));
    }
  }

  /**
   * Every record (batched or not; or those of `recordIds`) at every batch: its state proof from storage says what the model
   * says, byte for byte as the reference builds it, and checks against that batch's stored root,
   * which is the reference's root; a proof of the batch before fails against a batch that changed it.
   */
  async check(recordIds: readonly string[] = this.recordIds): Promise<void> {
    const ctx = { storage: this.storage };
    for (const [batchId, model] of this.versions) {
      const version = await this.storage.directory.get(batchId);
      expect(version?.root).toBe(referenceRoot(model));
      expect(version?.record_count).toBe(model.size);
      const before = this.versions.get(batchId - 1);
      for (const id of recordIds) {
        const key = recordKey(id);
        const proved = await stateProof(ctx, id, batchId);
        expect(proved).toMatchObject({
          batchId,
          root: version!.root,
          recordKey: key,
          state: model.get(key) ?? null,
        });
        expect(proved.proof).toBe(referenceEncode(referenceProof(model, key)));
        const verdict = verifyDirectoryProof(proved.root, key, proved.proof);
        expect(verdict).toEqual(
          model.has(key) ? { status: 'present', value: model.get(key) } : { status: 'absent' },
        );
        const changed = before?.has(key) && before.get(key)!.seq !== model.get(key)!.seq;
        if (changed) {
          const stale = await stateProof(ctx, id, batchId - 1);
          expect(verifyDirectoryProof(proved.root, key, stale.proof).status).toBe('invalid');
        }
      }
    }
    const latest = Math.max(0, ...this.versions.keys());
    if (latest > 0 && this.recordIds.length > 0) {
      expect((await stateProof(ctx, this.recordIds[0]!)).batchId).toBe(latest);
    }
  }
}
