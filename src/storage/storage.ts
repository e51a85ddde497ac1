/**
 * The storage seam. Everything proofmark keeps goes through these interfaces; each backend
 * (src/storage/sql: SQLite and PostgreSQL through Kysely; src/storage/memory: for fast tests)
 * implements all of them, and test/storage runs one behaviour suite against every backend so they
 * cannot drift. No code outside src/storage writes SQL or knows a database error code.
 *
 * Contracts every method keeps unless its comment says otherwise:
 * - Durable once it returns: a write that resolved survives a crash of the process (and, on SQLite
 *   with synchronous=FULL, power loss). A write that rejected wrote nothing, except where noted.
 * - Outside `transaction`, each call is atomic on its own. Inside, the calls see each other's writes
 *   and commit or roll back together.
 * - Isolation is at least read committed. Rules that need more are stated as unique keys (a write
 *   that would break one rejects with DuplicateKeyError and writes nothing) or as compare-and-set
 *   (the call reports whether the row was still as expected, and changes nothing when it was not).
 * - Rows come back as plain objects the caller may keep; changing them changes nothing stored.
 */
import type { Hex, NodePosition } from '../core/index.ts';
import type {
  ApiKeyRow,
  BatchChange,
  BatchRow,
  BatchStatus,
  EventRow,
  EventWithBatch,
  EvidenceRow,
  LeaseFence,
  MerchantRow,
  OpenSeal,
  RecordHead,
  RecordRow,
  ScanIncrement,
  ScanRow,
  SealedTree,
  StrikeRow,
} from './rows.ts';

export type StorageKind = 'sqlite' | 'postgres' | 'memory';

export interface Storage extends Stores {
  readonly kind: StorageKind;
  /** Where it lives, with any password removed: for logs. */
  readonly location: string;
  /**
   * Runs `work` with stores bound to one transaction. When it resolves, everything `work` wrote is
   * durable; when it rejects (whatever `work` threw, or a failed commit), nothing it wrote is. A
   * DuplicateKeyError inside aborts the whole transaction: retry it from the start, never continue.
   * Not reentrant: `work` uses only the stores it is given.
   */
  transaction<T>(work: (tx: Stores) => Promise<T>): Promise<T>;
  /** Waits for writes in flight, then releases connections and files. */
  close(): Promise<void>;
}

export interface Stores {
  readonly merchants: MerchantStore;
  readonly records: RecordStore;
  readonly events: EventStore;
  readonly batches: BatchStore;
  readonly scans: ScanStore;
  readonly leases: LeaseStore;
}

/** Merchants, their admission evidence, strikes and API keys. */
export interface MerchantStore {
  /** DuplicateKeyError if the id exists. */
  insert(merchant: MerchantRow): Promise<void>;
  get(id: string): Promise<MerchantRow | undefined>;
  /**
   * Changes status fields (undefined values are left alone); false (and nothing written) when there
   * is no such merchant. An empty change writes nothing and says whether the merchant exists.
   */
  update(
    id: string,
    change: Partial<Pick<MerchantRow, 'status' | 'verified_at' | 'suspended_at'>>,
  ): Promise<boolean>;
  /** In position order. */
  evidence(merchantId: string): Promise<EvidenceRow[]>;
  /** DuplicateKeyError if a (merchant_id, position) exists. */
  addEvidence(rows: readonly EvidenceRow[]): Promise<void>;
  /** In number order. */
  strikes(merchantId: string): Promise<StrikeRow[]>;
  /** DuplicateKeyError if the merchant already has a strike with this number. */
  addStrike(row: StrikeRow): Promise<void>;
  /** DuplicateKeyError if the key hash exists. */
  insertKey(row: ApiKeyRow): Promise<void>;
  /** Marks every unrevoked key of the merchant revoked at `at`. */
  revokeKeys(merchantId: string, at: string): Promise<void>;
  /** The merchant holding the key with this hash, and when the key was revoked (null: live). */
  byKeyHash(keyHash: string): Promise<{ merchant: MerchantRow; revokedAt: string | null } | undefined>;
}

/** Records (one per issued item). Their events live in the EventStore. */
export interface RecordStore {
  /** DuplicateKeyError if an id or a (merchant_id, external_id) exists; then none is written. */
  insertMany(rows: readonly RecordRow[]): Promise<void>;
  /** On the verdict's hot path. */
  get(id: string): Promise<RecordRow | undefined>;
  /** A record and its merchant in one read: the verdict's first read. */
  getWithMerchant(id: string): Promise<{ record: RecordRow; merchant: MerchantRow } | undefined>;
  /** The merchant's records with these external ids (any number of ids), each record once. */
  byExternalIds(merchantId: string, externalIds: readonly string[]): Promise<RecordRow[]>;
  /**
   * Compare-and-set of the record's head: writes `head` only if the record's head_seq is still
   * `expectedHeadSeq`. Returns whether it wrote.
   */
  advanceHead(id: string, expectedHeadSeq: number, head: RecordHead): Promise<boolean>;
}

/** Lifecycle events, their place in batches, and the queue of events waiting to be sealed. */
export interface EventStore {
  /** DuplicateKeyError if a (record_id, seq) exists; then none is written. */
  insertMany(rows: readonly EventRow[]): Promise<void>;
  /** The leaf of one event, or undefined. */
  leafAt(recordId: string, seq: number): Promise<string | undefined>;
  /** A record's events in seq order, each with its batch's state. On the verdict's hot path. */
  ofRecord(recordId: string): Promise<EventWithBatch[]>;
  /**
   * The status of the batch holding each record's issuance (seq 0); null while unbatched. Ids with
   * no issuance are left out of the map.
   */
  issuanceStatuses(recordIds: readonly string[]): Promise<Map<string, BatchStatus | null>>;
  /**
   * Events not yet in a batch: how many (counted up to `countUpTo`, so the answer costs no more than
   * that) and when the oldest was created.
   */
  unbatched(countUpTo: number): Promise<{ count: number; oldestAt: string | null }>;
  /**
   * Events acknowledged but not yet in a final batch: unbatched ones plus unfinished batches' leaves
   * (an open seal's included).
   */
  countAwaitingFinal(): Promise<number>;
  /**
   * Gives the oldest unbatched events (by created_at, record_id, seq), at most `maxLeaves`, batch
   * `batchId` and leaf indexes 0, 1, ... in that order, and returns their leaves packed 32 bytes
   * each in leaf order (empty when nothing waits). Meant for a transaction that then inserts the batch.
   */
  assignOldestUnbatched(batchId: number, maxLeaves: number): Promise<Uint8Array>;
  /**
   * One step of a seal in steps: gives the oldest unbatched events created at or before
   * `createdUpTo` (in the order above), at most `maxLeaves`, to open seal `batchId` at the leaf
   * indexes after its leaves, adds them to its leaf_count, and returns their leaves packed in leaf
   * order (empty when none waits). Null, and nothing written, when `fence` no longer holds its lease
   * or `batchId` is not an open seal.
   */
  assignToSeal(
    batchId: number,
    maxLeaves: number,
    createdUpTo: string,
    fence: LeaseFence,
  ): Promise<Uint8Array | null>;
  /**
   * The leaves of the events at leaf indexes `from`.. of batch `batchId` (an open seal's too), at
   * most `count`, packed 32 bytes each in leaf order; it stops at the first index no event holds.
   */
  batchLeaves(batchId: number, from: number, count: number): Promise<Uint8Array>;
  /**
   * When the events at these leaf indexes of batch `batchId` were created, in the order asked;
   * undefined where no event holds the index.
   */
  createdAtOfLeaves(batchId: number, indexes: readonly number[]): Promise<(string | undefined)[]>;
}

/**
 * Batches and their trees. A batch's state changes only through `transition`, fenced by the
 * anchorer lease: the one writer of batch state, whoever calls it (sealing inserts; the anchorer and
 * the development chain's replay transition).
 */
export interface BatchStore {
  /** One more than the highest batch id stored or taken by an open seal (1 when there is none). */
  nextId(): Promise<number>;
  /**
   * Stores a sealed batch (status 'sealed') with every node of its tree, so a proof is a handful of
   * point reads. DuplicateKeyError if the id exists.
   */
  insertSealed(batch: BatchRow, tree: SealedTree): Promise<void>;
  get(id: number): Promise<BatchRow | undefined>;
  /** Batches with id > after, in id order, at most `limit`. */
  list(after: number, limit: number): Promise<BatchRow[]>;
  /** Batches not final, in id order. */
  unfinished(): Promise<BatchRow[]>;
  /** Final batches, newest (highest id) first, at most `limit`. */
  newestFinal(limit: number): Promise<BatchRow[]>;
  /** Batches in any of `statuses`, in id order. */
  withStatus(statuses: readonly BatchStatus[]): Promise<BatchRow[]>;
  /**
   * Compare-and-set of a batch's state: moves batch `id` from `from` to `to` with `change` applied,
   * only if it is still in `from` and `fence` still holds its lease (same holder, same token).
   * Returns whether it wrote; false means the batch moved or the lease was lost, and nothing changed.
   */
  transition(
    id: number,
    from: BatchStatus,
    to: BatchStatus,
    change: BatchChange,
    fence: LeaseFence,
  ): Promise<boolean>;
  /**
   * The batch a sealer began in steps and has not completed, if any. A seal takes the next id and
   * is completed (or taken up after a crash) before another begins, so this is the newest batch id
   * when it is one.
   */
  openSeal(): Promise<OpenSeal | undefined>;
  /**
   * Begins sealing batch `id` in steps (EventStore.assignToSeal, storeSealNodes, completeSeal), with
   * no leaves yet. Until completed the batch is invisible: get, list, unfinished, newestFinal and
   * withStatus leave it out, and its events' batch fields (ofRecord, issuanceStatuses) read as if
   * they were unbatched; nextId counts its id and countAwaitingFinal its leaves. Every step is
   * fenced by the sealer's lease. DuplicateKeyError if the id exists; false, and nothing written,
   * when `fence` no longer holds its lease.
   */
  beginSeal(id: number, fence: LeaseFence): Promise<boolean>;
  /**
   * Stores a bounded part (about 256 KB) of open seal `id`'s tree, from node `from` (nodes counted
   * level by level, leaves first, from 0), replacing whatever an interrupted sealer stored there.
   * Returns where the next part starts: the tree's node count once it is all stored. Null, and
   * nothing written, when `fence` no longer holds its lease or `id` is not an open seal.
   */
  storeSealNodes(id: number, tree: SealedTree, from: number, fence: LeaseFence): Promise<number | null>;
  /**
   * Completes open seal `id`: it becomes a visible batch, status 'sealed', with `root`, sealed at
   * `sealedAt`, if it holds exactly `leafCount` leaves. False, and nothing written, when it does not,
   * when `id` is not an open seal, or when `fence` no longer holds its lease.
   */
  completeSeal(
    id: number,
    root: Hex,
    leafCount: number,
    sealedAt: string,
    fence: LeaseFence,
  ): Promise<boolean>;
  /**
   * The nodes at `positions` of batch `batchId`'s tree, 32 bytes each, in the order asked. Throws if
   * one is missing (the tree was stored whole at seal, so that is corruption).
   */
  nodes(batchId: number, positions: readonly NodePosition[]): Promise<Uint8Array[]>;
  /** Every leaf of the batch, packed 32 bytes each in tree order; empty for an unknown batch. */
  leaves(batchId: number): Promise<Uint8Array>;
}

/** Scan counts per record (written behind by service/scans.ts). */
export interface ScanStore {
  get(recordId: string): Promise<ScanRow | undefined>;
  /**
   * Adds each increment to its record's row (creating it), all in one write. Two increments for one
   * record in a call both count.
   */
  add(increments: readonly ScanIncrement[]): Promise<void>;
}

/**
 * Named leases with fencing tokens: leader election through the database. A lease not renewed
 * within its TTL passes to the next holder that asks, and its token grows, so a paused former
 * holder's fenced writes fail instead of racing the new one.
 */
export interface LeaseStore {
  /**
   * Takes the lease if it is free or expired (held while nowMs <= its expiry, free once nowMs is
   * past it), or renews it if `holder` has it; either way it then expires at nowMs + ttlMs. Returns
   * the fence when `holder` holds it, else null. The token stays the same across renewals by one
   * holder (also when that holder takes back its own expired or released lease) and grows when the
   * lease changes hands.
   */
  acquire(name: string, holder: string, ttlMs: number, nowMs: number): Promise<LeaseFence | null>;
  /**
   * Expires the lease at once if `fence` still holds it, so another holder can take it. Until one
   * does, `holds(fence)` and fenced writes still succeed: a caller must stop writing once it releases.
   */
  release(fence: LeaseFence): Promise<void>;
  /** Whether `fence` still holds its lease (same holder and token; expiry is not checked). */
  holds(fence: LeaseFence): Promise<boolean>;
}
