/**
 * Rows for the storage behaviour suite, valid on every backend (foreign keys hold: a merchant before
 * its records, a record before its events and scans). Ids are lowercase ASCII of one length, so
 * every collation sorts them the same way.
 */
import { bytesToHex, keccak256Hex, MerkleTree, NODE_SIZE, utf8, type Hex } from '../../src/core/index.ts';
import type {
  BatchRow,
  EventRow,
  LeaseFence,
  MerchantRow,
  RecordRow,
  ScanSighting,
  SealedTree,
} from '../../src/storage/rows.ts';
import type { Storage, Stores } from '../../src/storage/storage.ts';

const T0 = Date.parse('2025-01-01T00:00:00.000Z');

/** The ISO timestamp `seconds` after a fixed instant. */
export function at(seconds: number): string {
  return new Date(T0 + seconds * 1000).toISOString();
}

/** A deterministic 32-byte value named by `label`. */
export function hash(label: string): Hex {
  return keccak256Hex(utf8(label));
}

export function merchantRow(id: string, change: Partial<MerchantRow> = {}): MerchantRow {
  return {
    id,
    name: `Merchant ${id}`,
    contact_email: `${id}@example.com`,
    status: 'verified',
    created_at: at(0),
    verified_at: at(1),
    suspended_at: null,
    name_key: `merchant ${id}`,
    ...change,
  };
}

export function recordRow(
  id: string,
  merchantId: string,
  externalId = `ext-${id}`,
  change: Partial<RecordRow> = {},
): RecordRow {
  return {
    id,
    merchant_id: merchantId,
    external_id: externalId,
    kind: 'licence',
    sku: 'sku-1',
    product_name: 'Product',
    serial: `serial-${id}`,
    metadata: '{"edition":"standard"}',
    secret_salt: null,
    secret_commitment: null,
    fingerprint: hash(`fingerprint ${id}`),
    head_seq: 0,
    state: 'active',
    sold: 0,
    activated: 0,
    revealed: 0,
    dispute: 'none',
    created_at: at(0),
    ...change,
  };
}

export function eventRow(recordId: string, seq: number, createdAt = at(0)): EventRow {
  return {
    record_id: recordId,
    seq,
    type: seq === 0 ? 'issued' : 'sold',
    content: `{"seq":${seq}}`,
    leaf: hash(`leaf ${recordId} ${seq}`),
    prev_leaf: seq === 0 ? bytesToHex(new Uint8Array(NODE_SIZE)) : hash(`leaf ${recordId} ${seq - 1}`),
    created_at: createdAt,
    batch_id: null,
    leaf_index: null,
  };
}

/** Scanner `scanner` seen on record `recordId` in window `window`, `seconds` after the fixed instant. */
export function sighting(recordId: string, window: number, scanner: string, seconds: number): ScanSighting {
  return { record_id: recordId, window_index: window, scanner, seen_at: at(seconds) };
}

/** A sealed batch row for `tree`, all anchor fields empty. */
export function batchRow(id: number, tree: SealedTree, sealedAt = at(100)): BatchRow {
  return {
    id,
    root: tree.root,
    leaf_count: tree.levels[0]!.length / NODE_SIZE,
    status: 'sealed',
    sealed_at: sealedAt,
    raw_tx: null,
    tx_hash: null,
    block_number: null,
    block_hash: null,
    anchored_at: null,
    final_at: null,
    chain_root: null,
    state_root: null,
  };
}

/** A tree over `count` leaves named by `label`. */
export function treeOf(count: number, label = 'tree'): MerkleTree {
  return MerkleTree.fromLeaves(Array.from({ length: count }, (_, i) => hash(`${label} ${i}`)));
}

/** Inserts merchant `merchantId` (if new) and one record per id, each with its issuance event. */
export async function seedRecords(
  stores: Stores,
  merchantId: string,
  ids: readonly string[],
  createdAt = at(0),
): Promise<void> {
  if (!(await stores.merchants.get(merchantId))) await stores.merchants.insert(merchantRow(merchantId));
  await stores.records.insertMany(ids.map((id) => recordRow(id, merchantId)));
  await stores.events.insertMany(ids.map((id) => eventRow(id, 0, createdAt)));
}

/** Seals the oldest waiting events (at most `maxLeaves`) the way the service does; null if none wait. */
export async function seal(storage: Storage, maxLeaves = 1000): Promise<BatchRow | null> {
  return storage.transaction(async (tx) => {
    const id = await tx.batches.nextId();
    const leaves = await tx.events.assignOldestUnbatched(id, maxLeaves);
    if (leaves.length === 0) return null;
    const tree = MerkleTree.fromPacked(leaves);
    const batch = batchRow(id, tree);
    await tx.batches.insertSealed(batch, tree);
    return batch;
  });
}

/** The clock the lease tests pass in: any fixed number of milliseconds works. */
export const NOW_MS = 1_000_000;

/** Takes the anchorer lease for holder 'leader', as the batch transitions need. */
export async function lead(stores: Stores): Promise<LeaseFence> {
  const fence = await stores.leases.acquire('anchorer', 'leader', 60_000, NOW_MS);
  if (!fence) throw new Error('the anchorer lease is taken');
  return fence;
}
