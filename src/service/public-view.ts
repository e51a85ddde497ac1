/** The public face of a record: what the API, the verdict and the verification page show. */
import type { EventWithBatch, MerchantRow, RecordRow } from '../storage/rows.ts';
import { eventAnchor, type AnchorFields } from './anchor-view.ts';
import { verifyUrl, type ServiceContext } from './context.ts';
import { erasureOf, type Erasure } from './erasure.ts';

export interface PublicEvent {
  seq: number;
  type: string;
  at: string;
  data: Record<string, unknown>;
  leaf: string;
  anchor: AnchorFields;
  /** Set when the operator erased the event's content (its data is then empty). */
  erased?: Erasure;
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
  const erased = erasureOf(content);
  return {
    seq: event.seq,
    type: event.type,
    at: content.at ?? event.created_at,
    data: content.data ?? {},
    leaf: event.leaf,
    anchor: eventAnchor(event),
    ...(erased && { erased }),
  };
}

export function publicRecord(
  ctx: ServiceContext,
  record: RecordRow,
  merchant: MerchantRow,
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
