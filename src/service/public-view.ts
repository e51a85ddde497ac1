/** The public face of a record: what the API, the verdict and the verification page show. */
import type { ServiceContext } from './context.ts';
import { verifyUrl } from './context.ts';
import type { Merchant } from './merchants.ts';
import { anchorStatusOf, type EventWithBatch, type RecordRow } from './records.ts';

export interface PublicEvent {
  seq: number;
  type: string;
  at: string;
  data: Record<string, unknown>;
  leaf: string;
  anchor: {
    status: 'pending' | 'anchored' | 'final';
    batchId: number | null;
    txHash: string | null;
    blockNumber: number | null;
  };
}

export interface PublicRecord {
  id: string;
  kind: string;
  sku: string;
  productName: string;
  serial: string;
  metadata: Record<string, unknown>;
  state: string;
  createdAt: string;
  hasSecret: boolean;
  verifyUrl: string;
  merchant: { id: string; name: string; status: string; verifiedSince: string | null };
  events: PublicEvent[];
}

export function publicEvent(event: EventWithBatch): PublicEvent {
  const content = JSON.parse(event.content) as { at?: string; data?: Record<string, unknown> };
  const status = anchorStatusOf(event.batch_status);
  const anchored = status !== 'pending';
  return {
    seq: event.seq,
    type: event.type,
    at: content.at ?? event.created_at,
    data: content.data ?? {},
    leaf: event.leaf,
    anchor: {
      status,
      batchId: anchored ? event.batch_id : null,
      txHash: anchored ? event.tx_hash : null,
      blockNumber: anchored ? event.block_number : null,
    },
  };
}

export function publicRecord(
  ctx: ServiceContext,
  record: RecordRow,
  merchant: Merchant,
  events: EventWithBatch[],
): PublicRecord {
  return {
    id: record.id,
    kind: record.kind,
    sku: record.sku,
    productName: record.product_name,
    serial: record.serial,
    metadata: JSON.parse(record.metadata) as Record<string, unknown>,
    state: record.state,
    createdAt: record.created_at,
    hasSecret: record.secret_commitment !== null,
    verifyUrl: verifyUrl(ctx, record.id),
    merchant: {
      id: merchant.id,
      name: merchant.name,
      status: merchant.status,
      verifiedSince: merchant.verified_at,
    },
    events: events.map(publicEvent),
  };
}
