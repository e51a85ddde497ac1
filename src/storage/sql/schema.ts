/**
 * Table types for Kysely. Most tables hold exactly the rows of src/storage/rows.ts; the ones below are
 * the SQL backend's own layout (and `batches` also holds open seals: see SEALING). One schema serves
 * SQLite and PostgreSQL: timestamps are ISO-8601 text, hashes 0x-hex text, JSON text, tree nodes
 * blobs (bytea on PostgreSQL).
 */
import type {
  ApiKeyRow,
  BatchRow,
  DirectoryVersionRow,
  DisputeFileRow,
  DisputeRow,
  EventRow,
  EvidenceRow,
  MerchantRow,
  RecordRow,
  ScanRow,
  SealedDeliveryRow,
  SecretAttemptRow,
  ScanSighting,
  StrikeRow,
  WebhookAttemptRow,
  WebhookDeliveryRow,
  WebhookEndpointRow,
  WebhookMessageRow,
  DuplicateRefusalRow,
  UniqueKeyRow,
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

/** How far a final batch's item.final announcement has got: the next leaf index to announce. */
export interface WebhookAnnouncementsTable {
  batch_id: number;
  next_leaf: number;
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
  scan_sightings: ScanSighting;
  leases: LeasesTable;
  secret_attempts: SecretAttemptRow;
  webhook_endpoints: WebhookEndpointRow;
  webhook_messages: WebhookMessageRow;
  webhook_deliveries: WebhookDeliveryRow;
  webhook_attempts: WebhookAttemptRow;
  webhook_announcements: WebhookAnnouncementsTable;
  directory_versions: DirectoryVersionRow;
  directory_pages: DirectoryPagesTable;
  unique_keys: UniqueKeyRow;
  duplicate_refusals: DuplicateRefusalRow;
  sealed_deliveries: SealedDeliveryRow;
  disputes: DisputeRow;
  dispute_files: DisputeFileRow;
}
