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
import type { DirectoryPageKey, DirectoryPageWrite, Hex, NodePosition } from '../core/index.ts';
import type {
  ApiKeyRow,
  BatchChange,
  BatchEventRef,
  BatchRow,
  BatchEventRow,
  BatchStatus,
  DirectoryVersionRow,
  DisputeFileRow,
  DisputeRow,
  EventRow,
  EventWithBatch,
  EvidenceRow,
  LeaseFence,
  MerchantCreditRows,
  MerchantRow,
  OpenSeal,
  RecordHead,
  RecordRow,
  ScanRow,
  SealedDeliveryRow,
  DisputeStatus,
  ScanSighting,
  SealedTree,
  SecretAttemptRow,
  StrikeRow,
  DuplicateRefusalRow,
  UniqueKeyRow,
  WebhookAttemptRow,
  WebhookDeliveryOutcome,
  WebhookDeliveryRow,
  WebhookEndpointRow,
  WebhookMessageRow,
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
  /**
   * Makes what earlier writes overwrote unreadable in the backend's own files where it can, so a copy
   * of them no longer holds it: SQLite (which zeroes freed space as it goes) moves its write-ahead
   * log into the main file and empties it. PostgreSQL keeps old row versions until VACUUM reuses
   * their space (docs/operations.md); memory has no files. Nothing the stores return changes.
   */
  purgeOverwritten(): Promise<void>;
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
  readonly secretAttempts: SecretAttemptStore;
  readonly webhooks: WebhookStore;
  readonly directory: DirectoryStore;
  readonly uniqueKeys: UniqueKeyStore;
  readonly afterSale: AfterSaleStore;
}

/** Merchants, their admission evidence, strikes and API keys. */
export interface MerchantStore {
  /** DuplicateKeyError if the id exists, or if another merchant holds the (non-null) name_key. */
  insert(merchant: MerchantRow): Promise<void>;
  get(id: string): Promise<MerchantRow | undefined>;
  /** The merchant holding this name key. */
  byNameKey(nameKey: string): Promise<MerchantRow | undefined>;
  /**
   * Sets a merchant's name key; false (and nothing written) when there is no such merchant.
   * DuplicateKeyError if another merchant holds it.
   */
  setNameKey(id: string, nameKey: string): Promise<boolean>;
  /** Merchants whose name_key is null, oldest (created_at, then id) first. */
  withoutNameKey(): Promise<MerchantRow[]>;
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
  /**
   * What the merchant's credit figures count: its records, those in state revoked or refunded, and
   * its records' events of the dispute types (core DISPUTE_EVENT_TYPES), in no particular order.
   * Indexed: costs time in proportion to the merchant's records (an index-only count) plus its ended
   * records and the disputes, never a scan of its events.
   */
  credit(merchantId: string): Promise<MerchantCreditRows>;
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
  /**
   * Records whose secret_salt is still 0x-hex (stored in the clear by older versions), with id >
   * `afterId`, in id order, at most `limit`: id and secret_salt only.
   */
  plainSalts(afterId: string, limit: number): Promise<Array<Pick<RecordRow, 'id' | 'secret_salt'>>>;
  /**
   * Compare-and-set of secret_salt: writes `replacement` only if the record's secret_salt is still
   * `expected`. Returns whether it wrote.
   */
  replaceSalt(id: string, expected: string, replacement: string): Promise<boolean>;
}

/** Lifecycle events, their place in batches, and the queue of events waiting to be sealed. */
export interface EventStore {
  /** DuplicateKeyError if a (record_id, seq) exists; then none is written. */
  insertMany(rows: readonly EventRow[]): Promise<void>;
  /** The leaf of one event, or undefined. */
  leafAt(recordId: string, seq: number): Promise<string | undefined>;
  /**
   * Replaces one event's stored content (an operator's erasure); its type, leaf, prev_leaf and place
   * in a batch stay as they are. False (and nothing written) when there is no such event.
   */
  replaceContent(recordId: string, seq: number, content: string): Promise<boolean>;
  /** A record's events in seq order, each with its batch's state. */
  ofRecord(recordId: string): Promise<EventWithBatch[]>;
  /**
   * The record's events with fromSeq <= seq <= toSeq, in seq order, each with its batch's state (as
   * ofRecord): the verdict's issuance and one page of the lifecycle, whatever the record's length.
   * On the verdict's hot path.
   */
  ofRecordRange(recordId: string, fromSeq: number, toSeq: number): Promise<EventWithBatch[]>;
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
   * The same events counted per merchant (the merchant of each event's record), merchants with none
   * left out: the values add up to countAwaitingFinal(). Costs time in proportion to the backlog.
   */
  awaitingFinalByMerchant(): Promise<Map<string, number>>;
  /**
   * Gives the oldest unbatched events (by created_at, record_id, seq), at most `maxLeaves`, batch
   * `batchId` and leaf indexes 0, 1, ... in that order, and returns their leaves packed 32 bytes
   * each in leaf order (empty when nothing waits). Meant for a transaction that then inserts the batch.
   */
  assignOldestUnbatched(batchId: number, maxLeaves: number): Promise<Uint8Array>;
  /**
   * The events of batch `batchId` (an open seal's too) in leaf order (empty for an unknown batch):
   * all of them, or those at leaf indexes `fromLeaf`.., at most `limit`.
   */
  ofBatch(batchId: number, fromLeaf?: number, limit?: number): Promise<BatchEventRow[]>;
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
  /** The highest-id batch that is anchored or final and has a state_root, if any. */
  latestAnchoredState(): Promise<BatchRow | undefined>;
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
   * `sealedAt`, if it holds exactly `leafCount` leaves, and `stateRoot` as its state_root. False,
   * and nothing written, when it does not, when `id` is not an open seal, or when `fence` no longer
   * holds its lease.
   */
  completeSeal(
    id: number,
    root: Hex,
    leafCount: number,
    sealedAt: string,
    fence: LeaseFence,
    stateRoot?: Hex | null,
  ): Promise<boolean>;
  /**
   * The nodes at `positions` of batch `batchId`'s tree, 32 bytes each, in the order asked. Throws if
   * one is missing (the tree was stored whole at seal, so that is corruption).
   */
  nodes(batchId: number, positions: readonly NodePosition[]): Promise<Uint8Array[]>;
  /** Every leaf of the batch, packed 32 bytes each in tree order; empty for an unknown batch. */
  leaves(batchId: number): Promise<Uint8Array>;
}

/**
 * Scan counts per record, counting each scanner once per window (written behind by
 * service/scans.ts), and the sightings that make a scanner seen.
 */
export interface ScanStore {
  get(recordId: string): Promise<ScanRow | undefined>;
  /**
   * Keeps each sighting whose (record_id, window_index, scanner) is not stored yet, and adds the new
   * ones to their records' rows: count grows by one for each, last_at becomes the latest seen_at, a
   * new row starts at the earliest. One write; a sighting given twice counts once. Returns how many
   * were new. Two writers adding the same sighting at once count it once between them.
   */
  addSightings(sightings: readonly ScanSighting[]): Promise<number>;
  /**
   * Forgets at most `limit` sightings of windows before `beforeWindow`; returns how many it removed.
   * Counts stay as they are.
   */
  pruneSightings(beforeWindow: number, limit: number): Promise<number>;
}

/**
 * Wrong secrets per record and window, counted where every instance sharing the database sees them
 * (service/secret-attempts.ts). A check takes a try before it compares and gives it back when the
 * secret was right, so racing checks can never compare more than `limit` in one window.
 */
export interface SecretAttemptStore {
  get(recordId: string): Promise<SecretAttemptRow | undefined>;
  /**
   * Takes one try for each record, in one write and atomically per record. A record with no row, or
   * whose window started at or before `windowStartedBy` (it has ended), starts a new window at `now`
   * with 1 try taken; otherwise it gets a try only while fewer than `limit` are taken. Returns, for
   * each record, its row after the call, or null when it got no try (nothing was written for it).
   * Ids must be distinct.
   */
  take(
    recordIds: readonly string[],
    now: string,
    windowStartedBy: string,
    limit: number,
  ): Promise<Map<string, SecretAttemptRow | null>>;
  /**
   * Gives back one try per entry, taken in the window that started at `window_start` (a right
   * secret costs nothing), in one write. An entry whose record has since started another window, or
   * has no try taken, changes nothing. A record left with no try taken has no row (a check with the
   * right secret leaves nothing behind); its next try starts a new window.
   */
  giveBack(entries: ReadonlyArray<Pick<SecretAttemptRow, 'record_id' | 'window_start'>>): Promise<void>;
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

/**
 * Webhooks: endpoints, the outbox of messages with one delivery per endpoint, the attempt log, and
 * how far each final batch has been announced. Claims let any number of workers share the queue: a
 * claimed delivery is no one else's until its claim expires, so a crashed worker's claims pass on.
 */
export interface WebhookStore {
  /** DuplicateKeyError if the id exists. */
  insertEndpoint(row: WebhookEndpointRow): Promise<void>;
  /** Deleted ones too. */
  endpoint(id: string): Promise<WebhookEndpointRow | undefined>;
  /** The owner's endpoints not deleted, oldest first (created_at, then id). */
  endpoints(owner: string): Promise<WebhookEndpointRow[]>;
  /** The endpoints not deleted of any of `owners` whose event types include `type`, in endpoints' order. */
  subscribers(owners: readonly string[], type: string): Promise<WebhookEndpointRow[]>;
  /** Replaces the secrets of an endpoint not deleted; false (nothing written) when there is none. */
  rotateSecret(
    id: string,
    change: Pick<WebhookEndpointRow, 'secret' | 'previous_secret' | 'previous_secret_until'>,
  ): Promise<boolean>;
  /**
   * Marks the endpoint deleted at `at` and gives up its pending deliveries (failed, last_error
   * 'endpoint deleted', nothing due). False when there is no such endpoint or it was already deleted.
   */
  deleteEndpoint(id: string, at: string): Promise<boolean>;
  /**
   * The message and its deliveries, all or none. DuplicateKeyError if the message id, a delivery id
   * or a (message, endpoint) pair exists.
   */
  enqueue(message: WebhookMessageRow, deliveries: readonly WebhookDeliveryRow[]): Promise<void>;
  message(id: string): Promise<WebhookMessageRow | undefined>;
  /**
   * Claims up to `limit` pending deliveries due at `now` (next_attempt_at <= now) and unclaimed or
   * with an expired claim (claim_expires_at < now), earliest due first: sets claimed_by to `claim`
   * and claim_expires_at to `until`, and returns them as claimed. Two callers never both get one
   * delivery while its claim holds.
   */
  claimDue(claim: string, now: string, until: string, limit: number): Promise<WebhookDeliveryRow[]>;
  /**
   * Compare-and-set at the end of an attempt: only if the delivery is still claimed by `claim` and
   * has made attempt.attempt - 1 attempts, applies `outcome`, counts the attempt, clears the claim
   * and adds `attempt` to the log. Returns whether it wrote.
   */
  finishAttempt(
    id: string,
    claim: string,
    attempt: WebhookAttemptRow,
    outcome: WebhookDeliveryOutcome,
  ): Promise<boolean>;
  /**
   * Makes a delivery pending and due at `now` with no failures counted and no claim (an attempt in
   * flight then cannot finish it). Whatever its status; false when there is no such delivery.
   */
  requeue(id: string, now: string): Promise<boolean>;
  /**
   * An endpoint's deliveries newest first (created_at, then id, both descending), with their
   * message's type: at most `limit`, strictly before `before` in that order when given.
   */
  deliveries(
    endpointId: string,
    before: { created_at: string; id: string } | null,
    limit: number,
  ): Promise<Array<WebhookDeliveryRow & { type: string }>>;
  /** The delivery of one message to one endpoint. */
  delivery(endpointId: string, messageId: string): Promise<WebhookDeliveryRow | undefined>;
  /** The logged attempts of these deliveries, by delivery id, then attempt number. */
  attempts(deliveryIds: readonly string[]): Promise<WebhookAttemptRow[]>;
  /**
   * Final batches not wholly announced, in id order, at most `limit`, each with the leaf index its
   * announcement has reached (0 when it has not started).
   */
  unannouncedFinalBatches(limit: number): Promise<Array<{ batch: BatchRow; nextLeaf: number }>>;
  /**
   * Compare-and-set of a batch's announcement: moves it from leaf `from` to leaf `to` (a batch not
   * yet started is at 0). Returns whether it wrote.
   */
  advanceAnnouncement(batchId: number, from: number, to: number): Promise<boolean>;
  /** The batch's events at leaf indexes from `fromLeaf`, in leaf order, at most `limit`. */
  batchEvents(batchId: number, fromLeaf: number, limit: number): Promise<BatchEventRef[]>;
}

/**
 * The item directory (src/core/directory), one version per batch, every version kept so that a proof
 * as of any past batch can be served. A version stores only the pages that changed in it, each under
 * (version, path); a page names the version of each page below it, so every read is by exact key.
 */
export interface DirectoryStore {
  /**
   * Stores version `row.version` and the pages written in it; pages staged under it (stagePages)
   * become part of it too. DuplicateKeyError if the version exists or a path is given twice (or was
   * staged); then nothing is written.
   */
  insertVersion(row: DirectoryVersionRow, pages: readonly DirectoryPageWrite[]): Promise<void>;
  /**
   * For a seal in steps: stores `pages` (a bounded part; a seal calls this once per part) under
   * version `version` before the version exists, so that the last transaction of the seal only has
   * to insertVersion(row, []). Until then no reader sees them: every read goes through a stored
   * version's root. Fenced like BatchStore.storeSealNodes: false, and nothing written, when `fence`
   * no longer holds its lease, `version` is not an open seal, or the version exists.
   * DuplicateKeyError if a path is given twice or already staged (discardStaged first).
   */
  stagePages(version: number, pages: readonly DirectoryPageWrite[], fence: LeaseFence): Promise<boolean>;
  /**
   * Removes at most `limit` pages staged under version `version` (an interrupted sealer's), so that
   * a sealer taking over can stage its own. Returns how many it removed (0: none is left); null, and
   * nothing removed, under the same conditions as stagePages.
   */
  discardStaged(version: number, limit: number, fence: LeaseFence): Promise<number | null>;
  /** The highest version stored, or undefined when there is none. */
  latest(): Promise<DirectoryVersionRow | undefined>;
  get(version: number): Promise<DirectoryVersionRow | undefined>;
  /**
   * The pages stored under `keys`, in the order asked. Throws if one is missing: a page is only ever
   * asked for because a stored page names it, so that is corruption.
   */
  pages(keys: readonly DirectoryPageKey[]): Promise<Uint8Array[]>;
}

/**
 * The keys records hold once on the platform (blind index of secrets, serials per merchant and SKU),
 * and the log of registrations refused as duplicates. The unique key is over live rows only: a
 * record that ends frees its keys (ended = 1), and the row stays to say who held them.
 */
export interface UniqueKeyStore {
  /**
   * DuplicateKeyError if a live row (ended = 0) holds one of the keys, a live key is given twice, or
   * a (key, record_id) exists; then none is written.
   */
  insertMany(rows: readonly UniqueKeyRow[]): Promise<void>;
  /** Every row, live or ended, holding any of `keys` (any number of keys). */
  holders(keys: readonly string[]): Promise<UniqueKeyRow[]>;
  /** The record's rows (none for a record registered before the index existed). */
  ofRecord(recordId: string): Promise<UniqueKeyRow[]>;
  /** Marks the record's rows ended, so its keys may be held again (a re-issue). */
  endRecord(recordId: string): Promise<void>;
  /** Adds refusals to the log. DuplicateKeyError if an id exists; then none is written. */
  logRefusals(rows: readonly DuplicateRefusalRow[]): Promise<void>;
  /**
   * Logged refusals, newest first (at, then id, both descending), of one merchant or of all when
   * `merchantId` is null, at most `limit`.
   */
  refusals(merchantId: string | null, limit: number): Promise<DuplicateRefusalRow[]>;
}

/**
 * After the sale: sealed deliveries (the secret sealed until the buyer reveals it) and disputes with
 * their evidence files. The steps' events live in the EventStore like any other.
 */
export interface AfterSaleStore {
  /** DuplicateKeyError if the record already has a sealed delivery, or the token hash exists. */
  insertSealed(row: SealedDeliveryRow): Promise<void>;
  sealedOf(recordId: string): Promise<SealedDeliveryRow | undefined>;
  sealedByToken(tokenHash: string): Promise<SealedDeliveryRow | undefined>;
  /** Compare-and-set: sets revealed_at only if it is still null. Returns whether it wrote. */
  markRevealed(recordId: string, at: string): Promise<boolean>;
  /**
   * Deletes (sets to null) the sealed secret of at most `limit` deliveries expired at `now`
   * (expires_at <= now); returns how many.
   */
  purgeExpiredSecrets(now: string, limit: number): Promise<number>;
  /** DuplicateKeyError if the id exists. */
  insertDispute(row: DisputeRow): Promise<void>;
  dispute(id: string): Promise<DisputeRow | undefined>;
  /** A record's disputes, oldest first (opened_at, then id). */
  disputesOf(recordId: string): Promise<DisputeRow[]>;
  /** Disputes in any of `statuses`, oldest first (opened_at, then id), at most `limit`. */
  disputesWithStatus(statuses: readonly DisputeStatus[], limit: number): Promise<DisputeRow[]>;
  /** Open (unanswered) disputes whose deadline_at is at or before `by`, earliest first, at most `limit`. */
  openDueBy(by: string, limit: number): Promise<DisputeRow[]>;
  /**
   * Open disputes not yet warned whose deadline_at is at or before `by`, earliest first, at most `limit`.
   */
  unwarnedDueBy(by: string, limit: number): Promise<DisputeRow[]>;
  /**
   * Compare-and-set: applies `change` only if the dispute's status is still `from`. Returns whether it
   * wrote.
   */
  updateDispute(
    id: string,
    from: DisputeStatus,
    change: Partial<Omit<DisputeRow, 'id' | 'record_id' | 'merchant_id' | 'opened_at'>>,
  ): Promise<boolean>;
  /** DuplicateKeyError if a (dispute_id, position) exists; then none is written. */
  insertFiles(rows: readonly DisputeFileRow[]): Promise<void>;
  /** A dispute's files in position order, without their bytes. */
  filesOf(disputeId: string): Promise<Array<Omit<DisputeFileRow, 'bytes'>>>;
  file(disputeId: string, position: number): Promise<DisputeFileRow | undefined>;
}
