/**
 * Table types for Kysely. One schema serves SQLite and PostgreSQL: timestamps are ISO-8601 text
 * (sortable and identical in both), hashes are 0x-hex text, JSON is text, tree nodes are blobs.
 */
export interface MerchantsTable {
  id: string;
  name: string;
  contact_email: string | null;
  status: 'pending' | 'verified' | 'suspended';
  created_at: string;
  verified_at: string | null;
  suspended_at: string | null;
}

export interface MerchantEvidenceTable {
  merchant_id: string;
  position: number;
  description: string;
  sha256: string;
  added_at: string;
}

export interface MerchantStrikesTable {
  merchant_id: string;
  /** 1 = warning, 2 = suspension; the primary key lets the database decide between racing strikes. */
  number: number;
  reason: string;
  created_at: string;
}

export interface ApiKeysTable {
  /** sha256 of the key; the key itself is shown once and never stored. */
  key_hash: string;
  merchant_id: string;
  created_at: string;
  revoked_at: string | null;
}

export interface RecordsTable {
  id: string;
  merchant_id: string;
  external_id: string;
  kind: 'licence' | 'account' | 'card';
  sku: string;
  product_name: string;
  serial: string;
  metadata: string;
  /** Private salt of the secret commitment; null when the record has no secret. */
  secret_salt: string | null;
  /** keccak256(secret_salt ++ secret), also in the issuance content; never the secret itself. */
  secret_commitment: string | null;
  /** keccak256 of the registration without its secret: a replay must match it (idempotency). */
  fingerprint: string;
  /** seq of the latest event; a new event takes head_seq + 1. */
  head_seq: number;
  state: 'active' | 'revoked' | 'refunded';
  sold: number;
  activated: number;
  created_at: string;
}

export interface EventsTable {
  record_id: string;
  seq: number;
  type: string;
  /** The public content, as its canonical JSON (RFC 8785). */
  content: string;
  leaf: string;
  prev_leaf: string;
  created_at: string;
  batch_id: number | null;
  leaf_index: number | null;
}

export interface BatchesTable {
  id: number;
  root: string;
  leaf_count: number;
  status: 'sealed' | 'submitted' | 'anchored' | 'final';
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

export interface TreeNodesTable {
  batch_id: number;
  level: number;
  chunk: number;
  nodes: Uint8Array;
}

export interface ScansTable {
  record_id: string;
  count: number;
  first_at: string;
  last_at: string;
}

export interface LeasesTable {
  name: string;
  holder: string;
  /** Fencing token: grows each time the lease changes hands. */
  token: number;
  expires_at: number;
}

export interface SettingsTable {
  key: string;
  value: string;
}

export interface Database {
  merchants: MerchantsTable;
  merchant_evidence: MerchantEvidenceTable;
  merchant_strikes: MerchantStrikesTable;
  api_keys: ApiKeysTable;
  records: RecordsTable;
  events: EventsTable;
  batches: BatchesTable;
  tree_nodes: TreeNodesTable;
  scans: ScansTable;
  leases: LeasesTable;
  settings: SettingsTable;
}
