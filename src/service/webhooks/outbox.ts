/**
 * The outbox: a webhook is a row written in the transaction of the change it reports, so no event
 * is announced that did not happen (the rows roll back with the change) and none that happened is
 * lost (they commit with it). The delivery worker (worker.ts) sends them afterwards, at least once.
 */
import type { Stores } from '../../storage/storage.ts';
import { randomId } from '../random.ts';
import { WEBHOOK_EVENTS, webhookBody, type Audience, type WebhookEvent } from './events.ts';

/** The owner of the operator's own endpoints; merchants own theirs by merchant id (m_…). */
export const OPERATOR_OWNER = 'operator';

/**
 * Enqueues `event`, which concerns merchant `merchantId`, inside `tx` (the transaction of the change
 * it reports): one message, timestamped `at`, and one delivery, due at once, to every live endpoint
 * subscribed to its type among those of its audience (the merchant's, the operator's or both; see
 * events.ts). Writes nothing when no endpoint subscribes. Returns the message id (the `webhook-id`
 * every attempt carries), or null when nothing was written.
 */
export async function enqueueWebhook(
  tx: Stores,
  at: string,
  merchantId: string,
  event: WebhookEvent,
): Promise<string | null> {
  const audience: readonly Audience[] = WEBHOOK_EVENTS[event.type].audience;
  const owners = audience.map((who) => (who === 'merchant' ? merchantId : OPERATOR_OWNER));
  const endpoints = await tx.webhooks.subscribers(owners, event.type);
  if (endpoints.length === 0) return null;
  const id = `msg_${randomId()}`;
  await tx.webhooks.enqueue(
    { id, type: event.type, payload: webhookBody(event, at), created_at: at },
    endpoints.map((endpoint) => ({
      id: `wd_${randomId()}`,
      message_id: id,
      endpoint_id: endpoint.id,
      status: 'pending',
      attempts: 0,
      failures: 0,
      next_attempt_at: at,
      claimed_by: null,
      claim_expires_at: null,
      created_at: at,
      last_status_code: null,
      last_error: null,
      delivered_at: null,
    })),
  );
  return id;
}
