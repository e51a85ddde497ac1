/**
 * Everything a MemoryStorage holds: one Table per stored table of the SQL schema, plus the indexes
 * the SQL backends get from unique constraints and partial indexes. All share one journal, so a
 * rollback undoes writes to any of them.
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
  OpenSeal,
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
import { Journal, Table } from './journal.ts';

export interface LeaseRow {
  name: string;
  holder: string;
  token: number;
  expiresAtMs: number;
}

export class MemoryTables {
  readonly journal = new Journal();
  /** By id. */
  readonly merchants = this.table<MerchantRow>();
  /** The unique name_key of merchants that have one: the merchant id under that key. */
  readonly merchantByNameKey = this.table<string>();
  /** By (merchant_id, position). */
  readonly evidence = this.table<EvidenceRow>();
  /** By (merchant_id, number). */
  readonly strikes = this.table<StrikeRow>();
  /** By key_hash. */
  readonly apiKeys = this.table<ApiKeyRow>();
  /** By id. */
  readonly records = this.table<RecordRow>();
  /** The unique (merchant_id, external_id): the record id under that key. */
  readonly recordByExternalId = this.table<string>();
  /** By (record_id, seq). */
  readonly events = this.table<EventRow>();
  /** A record's event seqs, ascending (an immutable array, replaced on each insert). */
  readonly eventSeqs = this.table<readonly number[]>();
  /** The events with no batch, by (record_id, seq): SQL's partial index events_pending_idx. */
  readonly unbatched = this.table<EventRow>();
  /** The unique (batch_id, leaf_index) of batched events: the key of the event in that slot. */
  readonly leafSlots = this.table<string>();
  /** By id. */
  readonly batches = this.table<BatchRow>();
  /** Open seals (BatchStore.beginSeal), by id: apart from `batches`, so no read of batches sees them. */
  readonly seals = this.table<OpenSeal>();
  /** Each sealed tree's levels (leaves first, root last), by batch id (an open seal's as stored so far). */
  readonly trees = this.table<readonly Uint8Array[]>();
  /** By record_id. */
  readonly scans = this.table<ScanRow>();
  /** By (record_id, window_index, scanner). */
  readonly scanSightings = this.table<ScanSighting>();
  /** By name. */
  readonly leases = this.table<LeaseRow>();
  /** By record_id. */
  readonly secretAttempts = this.table<SecretAttemptRow>();
  /** By id. */
  readonly webhookEndpoints = this.table<WebhookEndpointRow>();
  /** By id. */
  readonly webhookMessages = this.table<WebhookMessageRow>();
  /** By id. */
  readonly webhookDeliveries = this.table<WebhookDeliveryRow>();
  /** The unique (message_id, endpoint_id): the delivery id under that key. */
  readonly webhookDeliveryPairs = this.table<string>();
  /** By (delivery_id, attempt). */
  readonly webhookAttempts = this.table<WebhookAttemptRow>();
  /** The next leaf to announce of each final batch whose announcement has started, by batch id. */
  readonly webhookAnnouncements = this.table<number>();
  /** By version. */
  readonly directoryVersions = this.table<DirectoryVersionRow>();
  /** By (version, path). */
  readonly directoryPages = this.table<Uint8Array>();
  /** By (key, record_id). */
  readonly uniqueKeys = this.table<UniqueKeyRow>();
  /** SQL's partial unique index over live keys: the (key, record_id) of the live row under each key. */
  readonly liveUniqueKeys = this.table<string>();
  /** The (key, record_id) of each record's rows, by record_id (an immutable array, replaced on insert). */
  readonly uniqueKeysOfRecord = this.table<readonly string[]>();
  /** The (key, record_id) of every row under each key, live or ended (an immutable array). */
  readonly uniqueKeysByKey = this.table<readonly string[]>();
  /** By id. */
  readonly duplicateRefusals = this.table<DuplicateRefusalRow>();
  /** By record_id. */
  readonly sealedDeliveries = this.table<SealedDeliveryRow>();
  /** The unique token_hash: the record id under that key. */
  readonly sealedByToken = this.table<string>();
  /** By id. */
  readonly disputes = this.table<DisputeRow>();
  /** By (dispute_id, position). */
  readonly disputeFiles = this.table<DisputeFileRow>();

  private table<R>(): Table<R> {
    return new Table<R>(this.journal);
  }
}
