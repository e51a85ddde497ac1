/**
 * What the stores hold, one interface per kind of row, as stored: snake_case columns, timestamps as
 * ISO-8601 text (sortable, identical in every backend), hashes as 0x-hex text, JSON as canonical text.
 * Every backend (src/storage/sql, src/storage/memory) reads and writes exactly these shapes.
 */
import type { DisputeStage, Hex, RecordKind, RecordState } from '../core/index.ts';

export type MerchantStatus = 'pending' | 'verified' | 'suspended';

export interface MerchantRow {
  id: string;
  name: string;
  contact_email: string | null;
  status: MerchantStatus;
  created_at: string;
  verified_at: string | null;
  suspended_at: string | null;
  /**
   * The name as compared for uniqueness (NFKC, case folded, confusable skeleton: see
   * src/service/merchant-names.ts); unique among merchants. Null only for a merchant admitted before
   * the rule whose name an older merchant's already holds.
   */
  name_key: string | null;
}

export interface EvidenceRow {
  merchant_id: string;
  /** 1, 2, 3, ... per merchant, in the order the evidence was added. */
  position: number;
  description: string;
  /** sha256 of the document, lowercase hex (no 0x). */
  sha256: string;
  added_at: string;
}

export interface StrikeRow {
  merchant_id: string;
  /** 1 = warning, 2 = suspension; unique per merchant, so racing strikes cannot both be number 1. */
  number: number;
  reason: string;
  created_at: string;
}

/**
 * What a merchant's credit figures are made of (core/merchant-credit.ts): its records, those that
 * ended revoked or refunded, and every dispute event of its records (types DISPUTE_EVENT_TYPES).
 */
export interface MerchantCreditRows {
  issued: number;
  revoked: number;
  refunded: number;
  disputes: Array<Pick<EventRow, 'record_id' | 'seq' | 'type' | 'content'>>;
}

export interface ApiKeyRow {
  /** sha256 of the key; the key itself is shown once and never stored. */
  key_hash: string;
  merchant_id: string;
  created_at: string;
  revoked_at: string | null;
}

/** Defined by the lifecycle (src/core/lifecycle.ts), so a new kind or state needs no edit here. */
export type { RecordKind, RecordState };

export interface RecordRow {
  id: string;
  merchant_id: string;
  external_id: string;
  kind: RecordKind;
  sku: string;
  product_name: string;
  serial: string;
  /** Canonical JSON of the public metadata. */
  metadata: string;
  /**
   * Where the secret commitment's salt comes from. Null when the record has no secret, or when the
   * salt is derived from the server key and the record id (every record registered since salts
   * stopped being stored). `v1.…`: an older record's salt, sealed under the server key. 0x-hex: an
   * older record's salt in the clear, which the service seals at its next start.
   */
  secret_salt: string | null;
  /** keccak256(salt ++ secret), also in the issuance content; never the secret itself. */
  secret_commitment: string | null;
  /** keccak256 of the registration without its secret: a replay must match it (idempotency). */
  fingerprint: string;
  /** seq of the latest event; a new event takes head_seq + 1. */
  head_seq: number;
  state: RecordState;
  /** 0 or 1. */
  sold: number;
  /** 0 or 1. */
  activated: number;
  /** 0 or 1: a sealed delivery's secret has been revealed to the buyer. */
  revealed: number;
  dispute: DisputeStage;
  created_at: string;
}

/** The part of a record that a lifecycle event changes, swapped as one (see RecordStore.advanceHead). */
export type RecordHead = Pick<
  RecordRow,
  'head_seq' | 'state' | 'sold' | 'activated' | 'revealed' | 'dispute'
>;

export interface EventRow {
  record_id: string;
  seq: number;
  type: string;
  /** The public content, as its canonical JSON (RFC 8785). */
  content: string;
  leaf: string;
  prev_leaf: string;
  created_at: string;
  /** Null until the event is sealed into a batch. */
  batch_id: number | null;
  leaf_index: number | null;
}

/** What the item directory takes from each event of a batch (the rest of the row is not read). */
export type BatchEventRow = Pick<EventRow, 'record_id' | 'seq' | 'type' | 'leaf'>;

/** An event with the state of the batch that holds it (all batch fields null while unbatched). */
export interface EventWithBatch extends EventRow {
  batch_status: BatchStatus | null;
  tx_hash: string | null;
  block_number: number | null;
  root: string | null;
  batch_leaf_count: number | null;
  chain_root: string | null;
}

export type BatchStatus = 'sealed' | 'submitted' | 'anchored' | 'final';

export interface BatchRow {
  id: number;
  root: string;
  leaf_count: number;
  status: BatchStatus;
  sealed_at: string;
  /** Signed anchor transaction, persisted before it is broadcast so a restart rebroadcasts it. */
  raw_tx: string | null;
  tx_hash: string | null;
  block_number: number | null;
  block_hash: string | null;
  anchored_at: string | null;
  final_at: string | null;
  /** The root read back from the chain once final (checked equal to `root`). */
  chain_root: string | null;
  /**
   * The item directory's root after this batch (src/service/directory.ts), stored at seal and
   * anchored beside `root` with anchorWithState. Null for a batch sealed before the directory
   * existed, and set to null when the batch is sent to a registry without anchorWithState: non-null
   * means the chain holds (or will hold, once anchored) this state root for the batch.
   */
  state_root: string | null;
}

/**
 * A batch being sealed in steps (BatchStore.beginSeal): its id is taken and `leaf_count` events hold
 * leaf indexes 0..leaf_count-1 in it, but it is invisible until completed (see beginSeal).
 */
export interface OpenSeal {
  id: number;
  leaf_count: number;
}

/** What a batch transition may change besides the status; the id and root never change. */
export type BatchChange = Partial<Omit<BatchRow, 'id' | 'root' | 'leaf_count' | 'status' | 'sealed_at'>>;

export interface ScanRow {
  record_id: string;
  count: number;
  first_at: string;
  last_at: string;
}

/**
 * One scanner seen on one record within one counting window (service/scans.ts): a record's count
 * grows by one for each scanner the first time it is seen in a window, however often it asks.
 */
export interface ScanSighting {
  record_id: string;
  /** Which window: whole windows since the Unix epoch. */
  window_index: number;
  /** A keyed hash of the scanner's address prefix, never the address itself. */
  scanner: string;
  seen_at: string;
}

/**
 * Wrong secrets tried against one record in its current window (see service/secret-attempts.ts). A
 * window begins with the first try after the previous one ended, and lasts the configured length.
 */
export interface SecretAttemptRow {
  record_id: string;
  window_start: string;
  /** Tries taken in this window: wrong guesses, and checks still comparing. */
  failures: number;
}

/**
 * Who may write batch state: the holder of a named lease and the fencing token it got when it took
 * the lease. A write fenced by a token the lease has since moved past changes nothing.
 */
export interface LeaseFence {
  name: string;
  holder: string;
  token: number;
}

/** A sealed batch's tree, as the core builds it: levels[0] the leaves, the last level the root. */
export interface SealedTree {
  root: Hex;
  levels: readonly Uint8Array[];
}

/** A place a merchant or the operator receives webhooks (src/service/webhooks). */
export interface WebhookEndpointRow {
  id: string;
  /** A merchant id, or 'operator' for the operator's own endpoints. */
  owner: string;
  url: string;
  description: string;
  /** The event types it receives: a JSON array of strings. */
  event_types: string;
  /** The signing secret, sealed with the server key: never in the clear. */
  secret: string;
  /** The secret before the last rotation, sealed, still signed with until previous_secret_until. */
  previous_secret: string | null;
  previous_secret_until: string | null;
  created_at: string;
  /** Set when deleted: it receives nothing more and leaves the lists; its log stays. */
  deleted_at: string | null;
}

/** One event to announce, written in the transaction of the change it reports (the outbox). */
export interface WebhookMessageRow {
  /** Sent as `webhook-id`: the same on every attempt, so receivers can drop duplicates. */
  id: string;
  type: string;
  /** The exact body sent (JSON text): signed as it is. */
  payload: string;
  created_at: string;
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One message on its way to one endpoint. */
export interface WebhookDeliveryRow {
  id: string;
  message_id: string;
  endpoint_id: string;
  status: WebhookDeliveryStatus;
  /** Attempts made so far; the attempt log numbers them 1, 2, ... */
  attempts: number;
  /** Failed attempts since it was queued or last replayed: the step reached in the retry schedule. */
  failures: number;
  /** When the next attempt is due while pending; null once delivered or given up. */
  next_attempt_at: string | null;
  /** The claim of the worker attempting it now, and until when that claim holds; null when unclaimed. */
  claimed_by: string | null;
  claim_expires_at: string | null;
  created_at: string;
  /** The latest attempt's HTTP status (null: no answer) and error, for the log. */
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: string | null;
}

/** What an attempt's end changes on its delivery. */
export type WebhookDeliveryOutcome = Pick<
  WebhookDeliveryRow,
  'status' | 'failures' | 'next_attempt_at' | 'last_status_code' | 'last_error' | 'delivered_at'
>;

/** One attempt to deliver, as the delivery log shows it. */
export interface WebhookAttemptRow {
  delivery_id: string;
  /** 1, 2, 3, ... per delivery. */
  attempt: number;
  started_at: string;
  /** The HTTP status answered; null when no answer came (refused, timed out, unreachable). */
  status_code: number | null;
  error: string | null;
  latency_ms: number;
  /** When the next attempt was scheduled after this one; null if none (delivered, or given up). */
  next_attempt_at: string | null;
}

/** An event of a batch with what an item.final announcement names: its record's merchant and external id. */
export interface BatchEventRef {
  leaf_index: number;
  record_id: string;
  seq: number;
  type: string;
  merchant_id: string;
  external_id: string;
}

/**
 * One version of the item directory: the state of every record after batch `version` (a batch id).
 * Its nodes are stored under (path, version) by the version that wrote them (src/core/directory).
 */
export interface DirectoryVersionRow {
  version: number;
  /** The directory's root after the batch. */
  root: string;
  /** How many records the directory holds. */
  record_count: number;
}

/** What a unique key stands for: a record's secret (its blind index value) or its serial. */
export type UniqueKeyType = 'secret' | 'serial';

/**
 * One key a record holds on the platform (service/uniqueness.ts): among live rows (ended = 0) a key
 * is held once. Records registered before migration 009 have none.
 */
export interface UniqueKeyRow {
  /**
   * Hex HMAC under the server key's blind-index subkey: of (kind, normalised secret) for a secret, of
   * ('serial', merchant, sku, serial) for a serial. Never the secret; useless without the server key.
   */
  key: string;
  type: UniqueKeyType;
  record_id: string;
  merchant_id: string;
  /** 0 while the record is live; 1 once it ended (refunded, revoked), freeing the key for a re-issue. */
  ended: number;
  /** The ended record of the same merchant this one re-issues, or null. Same on each of a record's rows. */
  reissue_of: string | null;
  created_at: string;
}

/** A registration refused as a duplicate, kept for the operator (never the secret or its key). */
export interface DuplicateRefusalRow {
  id: string;
  at: string;
  /** The merchant whose registration was refused. */
  merchant_id: string;
  type: UniqueKeyType;
  /** The record holding the key; null when the duplicate was within the refused request itself. */
  existing_record_id: string | null;
  /** The merchant holding the key (null as above): the operator's view only, never a merchant's. */
  existing_merchant_id: string | null;
  /** The refused record's externalId. */
  external_id: string;
}

/**
 * A sale recorded with sealed delivery: the secret sealed under the server key (purpose
 * 'sealed-delivery', bound to the record id) until it expires, and the hash of the buyer's one-time
 * reveal token. After expiry sealed_secret is null: nothing of the secret is left.
 */
export interface SealedDeliveryRow {
  record_id: string;
  merchant_id: string;
  sealed_secret: string | null;
  /** SHA-256 (0x-hex) of the reveal token; the token itself is only ever in the buyer's link. */
  token_hash: string;
  created_at: string;
  expires_at: string;
  /** The buyer's first reveal; null until then. */
  revealed_at: string | null;
}

export const DISPUTE_REASONS = [
  'will_not_activate',
  'already_used',
  'revoked_after_sale',
  'not_as_described',
  'other',
] as const;
export type DisputeReason = (typeof DISPUTE_REASONS)[number];
export const DISPUTE_RESPONSES = ['accept_refund', 'replace', 'contest'] as const;
export type DisputeResponse = (typeof DISPUTE_RESPONSES)[number];
export type DisputeDecision = 'buyer' | 'merchant';
/** Who decided: the operator, the merchant itself (accepting or replacing), or the deadline. */
export type DisputeDecidedBy = 'operator' | 'merchant' | 'deadline';
export type DisputeStatus = 'open' | 'answered' | 'decided';

/** A buyer's dispute on a record. Each step is also an event in the record's anchored history. */
export interface DisputeRow {
  id: string;
  record_id: string;
  merchant_id: string;
  reason: DisputeReason;
  description: string;
  status: DisputeStatus;
  opened_at: string;
  /** When an unanswered dispute is decided for the buyer. */
  deadline_at: string;
  /** When dispute.deadline_approaching was sent; null before. */
  warned_at: string | null;
  response: DisputeResponse | null;
  answer: string | null;
  answered_at: string | null;
  decision: DisputeDecision | null;
  decided_by: DisputeDecidedBy | null;
  decided_at: string | null;
  /** The operator's note on a decision; not public. */
  decision_note: string | null;
}

/** An evidence file of a dispute, kept by the service; its SHA-256 is in the step's anchored event. */
export interface DisputeFileRow {
  dispute_id: string;
  /** 0, 1, ... across both sides, in upload order. */
  position: number;
  side: 'buyer' | 'merchant';
  content_type: string;
  size: number;
  /** 0x-hex SHA-256 of the bytes. */
  sha256: string;
  bytes: Uint8Array;
}
