/**
 * What the stores hold, one interface per kind of row, as stored: snake_case columns, timestamps as
 * ISO-8601 text (sortable, identical in every backend), hashes as 0x-hex text, JSON as canonical text.
 * Every backend (src/storage/sql, src/storage/memory) reads and writes exactly these shapes.
 */
import type { Hex, RecordKind, RecordState } from '../core/index.ts';

export type MerchantStatus = 'pending' | 'verified' | 'suspended';

export interface MerchantRow {
  id: string;
  name: string;
  contact_email: string | null;
  status: MerchantStatus;
  created_at: string;
  verified_at: string | null;
  suspended_at: string | null;
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
  /** Private salt of the secret commitment; null when the record has no secret. */
  secret_salt: string | null;
  /** keccak256(secret_salt ++ secret), also in the issuance content; never the secret itself. */
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
  created_at: string;
}

/** The part of a record that a lifecycle event changes, swapped as one (see RecordStore.advanceHead). */
export type RecordHead = Pick<RecordRow, 'head_seq' | 'state' | 'sold' | 'activated'>;

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

/** Scans counted in memory since the last flush, added to the stored row in one write. */
export interface ScanIncrement {
  record_id: string;
  count: number;
  first_at: string;
  last_at: string;
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
