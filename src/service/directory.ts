/**
 * The item directory as the service keeps it: directory N is directory N-1 with batch N's events
 * applied (each record's last event in the batch wins), stored as version N inside the seal's
 * transaction; and state proofs, as of the latest version or any past one, read from storage.
 */
import {
  bytesToHex,
  DirectoryUpdate,
  encodeDirectoryProof,
  endsRecord,
  proveDirectoryKey,
  recordKey,
  verifyDirectoryProof,
  type DirectoryEntry,
  type DirectoryValue,
  type Hex,
} from '../core/index.ts';
import type { BatchEventRow, DirectoryVersionRow } from '../storage/rows.ts';
import type { Stores } from '../storage/storage.ts';
import type { ServiceContext } from './context.ts';
import { notFound } from './errors.ts';

/**
 * Stores directory version `batchId`: the directory after batch `batchId`, whose `events` (all of
 * them, in any order) are given. Call it inside the transaction that seals the batch, after the
 * batch's events are assigned to it, so the batch and its directory commit together. The directory
 * must hold version batchId - 1 (or nothing, for batch 1): see catchUpDirectory. Returns the new root.
 */
export async function updateDirectory(
  tx: Stores,
  batchId: number,
  events: readonly BatchEventRow[],
): Promise<Hex> {
  if (events.length === 0) throw new RangeError(`batch ${batchId} has no events for the directory`);
  const latest = await tx.directory.latest();
  const baseVersion = latest?.version ?? 0;
  if (baseVersion !== batchId - 1) {
    throw new Error(
      `the directory is at batch ${baseVersion}, so it cannot take batch ${batchId}: run catchUpDirectory first`,
    );
  }
  const base = latest ? { root: latest.root as Hex, version: latest.version } : null;
  const update = new DirectoryUpdate(latestStates(events), base, batchId);
  for (let keys = update.wanted(); keys.length > 0; keys = update.wanted()) {
    update.supply(await tx.directory.pages(keys));
  }
  const change = update.result();
  const row: DirectoryVersionRow = {
    version: batchId,
    root: change.root,
    record_count: (latest?.record_count ?? 0) + change.added,
  };
  await tx.directory.insertVersion(row, change.pages);
  return change.root;
}

/** Each record's state after `events`: its event with the highest seq. */
function latestStates(events: readonly BatchEventRow[]): DirectoryEntry[] {
  const last = new Map<string, BatchEventRow>();
  for (const event of events) {
    const seen = last.get(event.record_id);
    if (!seen || event.seq > seen.seq) last.set(event.record_id, event);
  }
  return [...last.values()].map((e) => ({
    key: recordKey(e.record_id),
    value: { seq: e.seq, leaf: e.leaf as Hex, ended: endsRecord(e.type) },
  }));
}

/**
 * Brings the directory up to the latest sealed batch, one batch per transaction, from the events
 * stored in each: for a database that sealed batches before it kept a directory, or after a seal
 * that stored a batch without its directory. Returns how many batches it applied. Safe to race: a
 * version another instance stored first makes this one's insert fail with DuplicateKeyError.
 */
export async function catchUpDirectory(ctx: Pick<ServiceContext, 'storage'>): Promise<number> {
  let applied = 0;
  for (;;) {
    // Read first, outside any transaction: the seal calls this every time, and is almost never behind.
    const next = ((await ctx.storage.directory.latest())?.version ?? 0) + 1;
    if (!(await ctx.storage.batches.get(next))) return applied;
    const done = await ctx.storage.transaction(async (tx) => {
      const next = ((await tx.directory.latest())?.version ?? 0) + 1;
      if (!(await tx.batches.get(next))) return true;
      await updateDirectory(tx, next, await tx.events.ofBatch(next));
      return false;
    });
    if (done) return applied;
    applied++;
  }
}

/** A record's state as of a batch, with the proof of it against that batch's directory root. */
export interface StateProof {
  /** The batch (directory version) the proof is for. */
  batchId: number;
  /** The directory root after that batch. */
  root: Hex;
  recordKey: Hex;
  /** The encoded directory proof (src/core/directory/proof.ts), as 0x-hex. */
  proof: Hex;
  /** The record's state after the batch, or null when no batch up to it held the record. */
  state: DirectoryValue | null;
}

/**
 * The proof of record `recordId`'s state (present, or absent) as of batch `asOfBatch`, or of the
 * latest batch the directory holds. 404 batch_not_found when the directory has no such version.
 * Throws (a 500) if the stored pages do not make a proof that checks against the stored root.
 */
export async function stateProof(
  ctx: Pick<ServiceContext, 'storage'>,
  recordId: string,
  asOfBatch?: number,
): Promise<StateProof> {
  const { directory } = ctx.storage;
  const version = asOfBatch === undefined ? await directory.latest() : await directory.get(asOfBatch);
  if (!version) {
    throw notFound(
      'batch_not_found',
      asOfBatch === undefined ? 'no batch has been sealed yet' : `no directory for batch ${asOfBatch}`,
    );
  }
  const root = version.root as Hex;
  const key = recordKey(recordId);
  // One read per page on the key's path (about five for a million records), each named by the one above.
  const pages = new Map<string, Uint8Array>();
  for (;;) {
    const search = proveDirectoryKey(root, version.version, key, ({ path }) => pages.get(path));
    if ('proof' in search) {
      const proof = encodeDirectoryProof(search.proof);
      const verdict = verifyDirectoryProof(root, key, proof);
      if (verdict.status === 'invalid') {
        throw new Error(
          `directory version ${version.version} gives a bad proof for ${key}: ${verdict.reason}`,
        );
      }
      const state = verdict.status === 'present' ? verdict.value : null;
      return { batchId: version.version, root, recordKey: key, proof: bytesToHex(proof), state };
    }
    const [page] = await directory.pages([search.missing]);
    pages.set(search.missing.path, page!);
  }
}
