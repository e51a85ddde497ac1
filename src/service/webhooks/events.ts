/**
 * Every webhook event type, in one table: who hears it, what it means, and the shape of its `data`
 * as a TypeBox schema (the API publishes them at GET /v1/webhooks/event-types; docs/operations.md
 * describes them). A receiver gets Standard Webhooks' envelope: `{"type", "timestamp", "data"}`.
 *
 * To add a type: one entry here, then enqueue it with enqueueWebhook (outbox.ts) inside the
 * transaction of the change it reports.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

/** Who an event type is sent to: the merchant it concerns, the operator, or both. */
export type Audience = 'merchant' | 'operator';

const Time = Type.String({ description: 'ISO-8601, UTC' });

const DisputeReason = Type.Union(
  ['will_not_activate', 'already_used', 'revoked_after_sale', 'not_as_described', 'other'].map((r) =>
    Type.Literal(r),
  ),
);

/** The parts every dispute event names. */
const DisputeRef = {
  disputeId: Type.String(),
  recordId: Type.String(),
  externalId: Type.String({ description: "the merchant's own id of the item" }),
  merchantId: Type.String(),
};

export const ItemFinalData = Type.Object({
  merchantId: Type.String(),
  batch: Type.Object({
    id: Type.Integer(),
    root: Type.String(),
    txHash: Type.Union([Type.String(), Type.Null()]),
    blockNumber: Type.Union([Type.Integer(), Type.Null()]),
    finalAt: Time,
  }),
  part: Type.Integer({
    minimum: 1,
    description: 'which 1,000-leaf range of the batch this message covers (1-based)',
  }),
  parts: Type.Integer({ minimum: 1, description: 'how many 1,000-leaf ranges the batch has' }),
  records: Type.Array(
    Type.Object({
      id: Type.String(),
      externalId: Type.String(),
      events: Type.Array(Type.Object({ seq: Type.Integer(), type: Type.String() })),
    }),
    { description: "the merchant's records with events in this range, in leaf order" },
  ),
});

export const MerchantStrikeData = Type.Object({
  merchantId: Type.String(),
  number: Type.Integer({ description: '1: a warning; 2: the merchant is suspended' }),
  reason: Type.String(),
  at: Time,
  suspended: Type.Boolean(),
});

export const DisputeOpenedData = Type.Object({
  ...DisputeRef,
  reason: DisputeReason,
  openedAt: Time,
  respondBy: Time,
});

export const DisputeDeadlineApproachingData = Type.Object({ ...DisputeRef, respondBy: Time });

export const DisputeDecidedData = Type.Object({
  ...DisputeRef,
  outcome: Type.Union([Type.Literal('buyer'), Type.Literal('merchant')]),
  decidedBy: Type.Union([Type.Literal('merchant'), Type.Literal('operator'), Type.Literal('deadline')]),
  decidedAt: Time,
  refunded: Type.Boolean(),
  strike: Type.Boolean({ description: 'whether the decision struck the merchant' }),
});

interface EventTypeRule {
  description: string;
  audience: readonly Audience[];
  data: TSchema;
}

export const WEBHOOK_EVENTS = {
  'item.final': {
    description:
      "Some of a merchant's records' events are now final (anchored CONFIRMATIONS deep): " +
      'one message per batch and merchant, in parts of 1,000 leaves',
    audience: ['merchant'],
    data: ItemFinalData,
  },
  'merchant.strike': {
    description: 'The operator struck the merchant: the first strike warns, the second suspends',
    audience: ['merchant', 'operator'],
    data: MerchantStrikeData,
  },
  'dispute.opened': {
    description: "A buyer opened a dispute on one of the merchant's items",
    audience: ['merchant', 'operator'],
    data: DisputeOpenedData,
  },
  'dispute.deadline_approaching': {
    description: 'A dispute the merchant has not answered is close to its response deadline',
    audience: ['merchant', 'operator'],
    data: DisputeDeadlineApproachingData,
  },
  'dispute.decided': {
    description: 'A dispute was decided: by the merchant accepting it, by the operator, or at the deadline',
    audience: ['merchant', 'operator'],
    data: DisputeDecidedData,
  },
} as const satisfies Record<string, EventTypeRule>;

export type WebhookEventType = keyof typeof WEBHOOK_EVENTS;
export const WEBHOOK_EVENT_TYPES = Object.keys(WEBHOOK_EVENTS) as WebhookEventType[];

/** An event as enqueued: its type and its data, typed together. */
export type WebhookEvent = {
  [T in WebhookEventType]: { type: T; data: Static<(typeof WEBHOOK_EVENTS)[T]['data']> };
}[WebhookEventType];

/** The event types `audience` can subscribe to. */
export function eventTypesFor(audience: Audience): WebhookEventType[] {
  return WEBHOOK_EVENT_TYPES.filter((type) =>
    (WEBHOOK_EVENTS[type].audience as readonly Audience[]).includes(audience),
  );
}

/** The body a receiver gets for `event`, as `webhook-signature` signs it. */
export function webhookBody(event: WebhookEvent, timestamp: string): string {
  return JSON.stringify({ type: event.type, timestamp, data: event.data });
}

/** The schema of the whole body of one event type (Standard Webhooks' envelope). */
export function webhookBodySchema(type: WebhookEventType): TSchema {
  return Type.Object({ type: Type.Literal(type), timestamp: Time, data: WEBHOOK_EVENTS[type].data });
}
