/**
 * Table types for Kysely. Most tables hold exactly the rows of src/storage/rows.ts; the three below
 * are the SQL backend's own layout. One schema serves SQLite and PostgreSQL: timestamps are ISO-8601
 * text, hashes 0x-hex text, JSON text, tree nodes blobs (bytea on PostgreSQL).
 */
import type {
  ApiKeyRow,
  BatchRow,
  DirectoryVersionRow,
  EventRow,
  EvidenceRow,
  MerchantRow,
  RecordRow,
  ScanRow,
  StrikeRow,
} from '../rows.ts';

/** A batch's tree, stored level by level in chunks of NODES_PER_CHUNK nodes (see batches.ts). */
export interface TreeNodesTable {
  batch_id: number;
  level: number;
  chunk: number;
  nodes: Uint8Array;
}

/** A page of the item directory, under the version (batch) that wrote it and its path. */
export interface DirectoryPagesTable {
  version: number;
  path: string;
  page: Uint8Array;
}

export interface LeasesTable {
  name: string;
  holder: string;
  /** Fencing token: grows each time the lease changes hands. */
  token: number;
  /** Milliseconds since the epoch. */
  expires_at: number;
}

export interface Database {
  merchants: MerchantRow;
  merchant_evidence: EvidenceRow;
  merchant_strikes: StrikeRow;
  api_keys: ApiKeyRow;
  records: RecordRow;
  events: EventRow;
  batches: BatchRow;
  tree_nodes: TreeNodesTable;
  scans: ScanRow;
  leases: LeasesTable;
  directory_versions: DirectoryVersionRow;
  directory_pages: DirectoryPagesTable;
}
