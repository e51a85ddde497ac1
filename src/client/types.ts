/**
 * What the API takes and returns, for the client. Wherever the HTTP layer exports a route's schema,
 * or the value its handler returns, the type is derived from it (type-only imports: nothing of the
 * service loads with the client), so the client cannot drift from the API. The rest mirror schemas
 * the routes keep to themselves (src/http/routes/*.ts); /openapi.json lists them all.
 */
import type { Static } from '@sinclair/typebox';
import type { EventType, MerchantEventType, RecordKind } from '../core/lifecycle.ts';
import type {
  AnchorStatus as AnchorStatusSchema,
  Batch as BatchSchema,
  Bundle as BundleSchema,
  BundleV2 as BundleV2Schema,
  StateProof as StateProofSchema,
} from '../http/routes/schemas.ts';
import type { DuplicateRefusals as DuplicateRefusalsSchema } from '../http/routes/duplicates.ts';
import type { PublicRecordSchema } from '../http/routes/records.ts';
import type { verdictBody } from '../http/routes/verify.ts';
import type {
  WebhookDelivery as WebhookDeliverySchema,
  WebhookDeliveryPage as WebhookDeliveryPageSchema,
  WebhookEndpoint as WebhookEndpointSchema,
  WebhookEndpointWithSecret as WebhookEndpointWithSecretSchema,
  WebhookEventTypes as WebhookEventTypesSchema,
} from '../http/routes/webhooks.ts';
import type { WebhookEventType } from '../service/webhooks/events.ts';

export type { ErasedEvent } from '../service/erasure.ts';
import type { FreshnessField as Freshness } from '../service/freshness.ts';
export type { Freshness };
export type { Evidence, MerchantProfile, StrikeRecord } from '../service/merchants.ts';
export type { MerchantCredit } from '../service/merchant-credit.ts';

export type AnchorStatus = Static<typeof AnchorStatusSchema>;
export type Batch = Static<typeof BatchSchema>;
/** A proofmark.bundle.v1 as the API serves it (src/core's ProofBundleV1 is the checked form). */
export type Bundle = Static<typeof BundleSchema>;
export type PublicRecord = Static<typeof PublicRecordSchema>;
/** A proofmark.bundle.v2 as the API serves it (src/core's ProofBundleV2 is the checked form). */
export type BundleV2 = Static<typeof BundleV2Schema>;
/** GET /v1/records/:id/state-proof (src/core's StateProofDocument is the checked form). */
export type StateProof = Static<typeof StateProofSchema>;
/** GET /v1/admin/duplicates. */
export type DuplicateRefusals = Static<typeof DuplicateRefusalsSchema>;
/** GET /v1/verify/:id, 200 or 404 (not_found). */
export type VerdictBody = ReturnType<typeof verdictBody>;
export type { EventType, MerchantEventType, RecordKind };

/** Small, flat, public key-value data on a record or an event: never secrets. */
export type PublicData = Record<string, string | number | boolean>;

/** POST /v1/merchants. */
export interface NewMerchant {
  name: string;
  contactEmail?: string;
}

/** POST /v1/merchants (201) and POST /v1/merchants/:id/keys (201): the API key is shown only here. */
export interface MerchantKey {
  id: string;
  name: string;
  status: 'pending' | 'verified' | 'suspended';
  apiKey: string;
}

/** One record of POST /v1/records. */
export interface RecordInput {
  externalId: string;
  kind: RecordKind;
  sku: string;
  productName: string;
  serial: string;
  /** Kept only as a salted commitment. */
  secret?: string;
  metadata?: PublicData;
}

export interface RegisteredRecord {
  id: string;
  externalId: string;
  status: AnchorStatus;
  verifyUrl: string;
}

/** POST /v1/records/:id/events. */
export interface NewEvent {
  type: MerchantEventType;
  data?: PublicData;
}

/** POST /v1/records/:id/events (201). */
export interface EventAck {
  recordId: string;
  seq: number;
  type: string;
  leaf: string;
  status: 'pending';
}

/** GET /v1/records/:id/proofs. */
export interface RecordProofs {
  recordId: string;
  bundles: Bundle[];
}

/** GET /v1/records/:id/proofs?format=v2: v2 bundles, v1 for events still pending. */
export interface RecordProofsV2 {
  recordId: string;
  bundles: Array<Bundle | BundleV2>;
}

/** POST /v1/verify: the bundle checked against the chain. */
export interface BundleCheck {
  valid: boolean;
  failure?: string;
  reason?: string;
  confirmations?: number;
  /** Whether the bundle's event is still its record's latest state (docs/proof-format.md §10). */
  freshness?: Freshness;
}

/** GET /v1/batches: `next` is the `after` of the following page, null on the last. */
export interface BatchPage {
  batches: Batch[];
  next: number | null;
}

/** GET /v1/chain. */
export interface ChainInfo {
  chainId: number;
  contract: string;
  rpcUrl: string | null;
  confirmations: number;
  nextBatchId: number;
}

/** GET /healthz. */
export interface Health {
  status: 'ok';
  leader: boolean;
  anchoringHalted: string | null;
  lastBatcherError: string | null;
}

export type { WebhookEventType };
export type WebhookEndpoint = Static<typeof WebhookEndpointSchema>;
/** POST …/endpoints (201) and POST …/endpoints/:id/secret (201): the signing secret is shown only here. */
export type WebhookEndpointWithSecret = Static<typeof WebhookEndpointWithSecretSchema>;
export type WebhookDelivery = Static<typeof WebhookDeliverySchema>;
/** GET …/endpoints/:id/deliveries: `next` is the `before` of the following page, null on the last. */
export type WebhookDeliveryPage = Static<typeof WebhookDeliveryPageSchema>;
/** GET /v1/webhooks/event-types. */
export type WebhookEventTypes = Static<typeof WebhookEventTypesSchema>;

/** POST /v1/webhooks/endpoints and POST /v1/admin/webhooks/endpoints. */
export interface NewWebhookEndpoint {
  /** http(s); by default only a public address (see WEBHOOK_ALLOW_PRIVATE). */
  url: string;
  /** Default: every type the owner receives. */
  eventTypes?: WebhookEventType[];
  description?: string;
}

/** The webhook endpoints of one owner: a merchant's (its key) or the operator's (the admin token). */
export interface WebhookEndpoints {
  create(endpoint: NewWebhookEndpoint): Promise<WebhookEndpointWithSecret>;
  list(): Promise<{ endpoints: WebhookEndpoint[] }>;
  get(id: string): Promise<WebhookEndpoint>;
  /** It gets nothing more; its delivery log stays readable. */
  delete(id: string): Promise<WebhookEndpoint>;
  /** A new secret; the old one also signs for 24 hours. */
  rotateSecret(id: string): Promise<WebhookEndpointWithSecret>;
  /** The delivery log, newest first: `limit` 1-100 (default 50), `before` a page's `next`. */
  deliveries(id: string, page?: { limit?: number; before?: string }): Promise<WebhookDeliveryPage>;
  /** Sends the message to the endpoint again (same webhook-id). */
  replay(id: string, messageId: string): Promise<WebhookDelivery>;
}

/** A dispute as the API shows it (GET /v1/disputes/:id and the admin routes). */
export type { DisputeView as Dispute } from '../service/after-sale/disputes.ts';
/** POST /v1/records/:id/sealed-sale (201). */
export type { SealedSale, RevealStatus } from '../service/after-sale/sealed-delivery.ts';

/** POST /v1/reveal/:token. */
export interface RevealedSecret {
  recordId: string;
  secret: string;
  revealedAt: string;
  first: boolean;
}

/** POST /v1/records/:id/disputes as JSON (no files). */
export interface NewDispute {
  reason: string;
  description: string;
  secret?: string;
  revealToken?: string;
}

/** POST /v1/disputes/:id/answer as JSON (no files). */
export interface DisputeAnswer {
  response: 'accept_refund' | 'replace' | 'contest';
  answer?: string;
}

/** POST /v1/admin/disputes/:id/decision. */
export interface DisputeDecisionInput {
  decision: 'buyer' | 'merchant';
  strike?: boolean;
  note?: string;
}
