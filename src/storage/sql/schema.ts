/**
 * Table types for Kysely. Most tables hold exactly the rows of src/storage/rows.ts; the two below are
 * the SQL backend's own layout. (`batches` also holds open seals: see SEALING.) One schema serves SQLite and PostgreSQL: timestamps are ISO-8601
 * text, hashes 0x-hex text, JSON text, tree nodes blobs (bytea on PostgreSQL).
 */
import type {
  ApiKeyRow,
  BatchRow,
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

/**
 * The status of an open seal's row in `batches` (see BatchStore.beginSeal). Typed as a BatchStatus
 * so queries can name it, though it is none: every read of visible batches filters it out, so it
 * never leaves src/storage/sql.
 */
export const SEALING = 'sealing' as unknown as BatchRow['status'];

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
}
