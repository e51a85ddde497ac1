/** WebhookStore over memory tables. See storage.ts for the contract of each method. */
import type {
  BatchEventRef,
  BatchRow,
  WebhookAttemptRow,
  WebhookDeliveryOutcome,
  WebhookDeliveryRow,
  WebhookEndpointRow,
  WebhookMessageRow,
} from '../rows.ts';
import type { WebhookStore } from '../storage.ts';
import { compareText, copyRow } from './copies.ts';
import { compositeKey } from './journal.ts';
import type { MemoryTables } from './tables.ts';
import { assertUniqueKeys } from './unique.ts';

export class MemoryWebhookStore implements WebhookStore {
  constructor(private readonly t: MemoryTables) {}

  async insertEndpoint(row: WebhookEndpointRow): Promise<void> {
    assertUniqueKeys(this.t.webhookEndpoints, [row.id], 'webhook endpoint id');
    this.t.webhookEndpoints.set(row.id, copyRow(row));
  }

  async endpoint(id: string): Promise<WebhookEndpointRow | undefined> {
    const row = this.t.webhookEndpoints.get(id);
    return row && copyRow(row);
  }

  async endpoints(owner: string): Promise<WebhookEndpointRow[]> {
    return liveEndpoints(this.t, (e) => e.owner === owner);
  }

  async subscribers(owners: readonly string[], type: string): Promise<WebhookEndpointRow[]> {
    return liveEndpoints(
      this.t,
      (e) => owners.includes(e.owner) && (JSON.parse(e.event_types) as string[]).includes(type),
    );
  }

  async rotateSecret(
    id: string,
    change: Pick<WebhookEndpointRow, 'secret' | 'previous_secret' | 'previous_secret_until'>,
  ): Promise<boolean> {
    const row = this.t.webhookEndpoints.get(id);
    if (!row || row.deleted_at !== null) return false;
    const { secret, previous_secret, previous_secret_until } = change;
    this.t.webhookEndpoints.set(id, { ...row, secret, previous_secret, previous_secret_until });
    return true;
  }

  async deleteEndpoint(id: string, at: string): Promise<boolean> {
    const row = this.t.webhookEndpoints.get(id);
    if (!row || row.deleted_at !== null) return false;
    this.t.webhookEndpoints.set(id, { ...row, deleted_at: at });
    for (const delivery of [...this.t.webhookDeliveries.values()]) {
      if (delivery.endpoint_id === id && delivery.status === 'pending') {
        this.t.webhookDeliveries.set(delivery.id, {
          ...delivery,
          status: 'failed',
          last_error: 'endpoint deleted',
          next_attempt_at: null,
        });
      }
    }
    return true;
  }

  async enqueue(message: WebhookMessageRow, deliveries: readonly WebhookDeliveryRow[]): Promise<void> {
    assertUniqueKeys(this.t.webhookMessages, [message.id], 'webhook message id');
    assertUniqueKeys(
      this.t.webhookDeliveries,
      deliveries.map((d) => d.id),
      'webhook delivery id',
    );
    const pairs = deliveries.map((d) => compositeKey(d.message_id, d.endpoint_id));
    assertUniqueKeys(this.t.webhookDeliveryPairs, pairs, 'webhook delivery (message_id, endpoint_id)');
    this.t.webhookMessages.set(message.id, copyRow(message));
    deliveries.forEach((delivery, i) => {
      this.t.webhookDeliveries.set(delivery.id, copyRow(delivery));
      this.t.webhookDeliveryPairs.set(pairs[i]!, delivery.id);
    });
  }

  async message(id: string): Promise<WebhookMessageRow | undefined> {
    const row = this.t.webhookMessages.get(id);
    return row && copyRow(row);
  }

  async claimDue(claim: string, now: string, until: string, limit: number): Promise<WebhookDeliveryRow[]> {
    const due = [...this.t.webhookDeliveries.values()]
      .filter(
        (d) =>
          d.status === 'pending' &&
          d.next_attempt_at !== null &&
          compareText(d.next_attempt_at, now) <= 0 &&
          (d.claim_expires_at === null || compareText(d.claim_expires_at, now) < 0),
      )
      .sort((a, b) => compareText(a.next_attempt_at!, b.next_attempt_at!) || compareText(a.id, b.id))
      .slice(0, Math.max(0, limit));
    return due.map((delivery) => {
      const claimed = { ...delivery, claimed_by: claim, claim_expires_at: until };
      this.t.webhookDeliveries.set(delivery.id, claimed);
      return copyRow(claimed);
    });
  }

  async finishAttempt(
    id: string,
    claim: string,
    attempt: WebhookAttemptRow,
    outcome: WebhookDeliveryOutcome,
  ): Promise<boolean> {
    const row = this.t.webhookDeliveries.get(id);
    if (!row || row.claimed_by !== claim || row.attempts !== attempt.attempt - 1) return false;
    const key = compositeKey(id, attempt.attempt);
    assertUniqueKeys(this.t.webhookAttempts, [key], 'webhook attempt (delivery_id, attempt)');
    const { status, failures, next_attempt_at, last_status_code, last_error, delivered_at } = outcome;
    this.t.webhookDeliveries.set(id, {
      ...row,
      status,
      failures,
      next_attempt_at,
      last_status_code,
      last_error,
      delivered_at,
      attempts: attempt.attempt,
      claimed_by: null,
      claim_expires_at: null,
    });
    this.t.webhookAttempts.set(key, { ...attempt, delivery_id: id });
    return true;
  }

  async requeue(id: string, now: string): Promise<boolean> {
    const row = this.t.webhookDeliveries.get(id);
    if (!row) return false;
    this.t.webhookDeliveries.set(id, {
      ...row,
      status: 'pending',
      failures: 0,
      next_attempt_at: now,
      claimed_by: null,
      claim_expires_at: null,
    });
    return true;
  }

  async deliveries(
    endpointId: string,
    before: { created_at: string; id: string } | null,
    limit: number,
  ): Promise<Array<WebhookDeliveryRow & { type: string }>> {
    const newestFirst = (a: WebhookDeliveryRow, b: WebhookDeliveryRow) =>
      compareText(b.created_at, a.created_at) || compareText(b.id, a.id);
    return [...this.t.webhookDeliveries.values()]
      .filter((d) => d.endpoint_id === endpointId && (before === null || olderThan(d, before)))
      .sort(newestFirst)
      .slice(0, Math.max(0, limit))
      .map((d) => ({ ...d, type: this.t.webhookMessages.get(d.message_id)!.type }));
  }

  async delivery(endpointId: string, messageId: string): Promise<WebhookDeliveryRow | undefined> {
    const id = this.t.webhookDeliveryPairs.get(compositeKey(messageId, endpointId));
    const row = id === undefined ? undefined : this.t.webhookDeliveries.get(id);
    return row && copyRow(row);
  }

  async attempts(deliveryIds: readonly string[]): Promise<WebhookAttemptRow[]> {
    const wanted = new Set(deliveryIds);
    return [...this.t.webhookAttempts.values()]
      .filter((a) => wanted.has(a.delivery_id))
      .sort((a, b) => compareText(a.delivery_id, b.delivery_id) || a.attempt - b.attempt)
      .map(copyRow);
  }

  async unannouncedFinalBatches(limit: number): Promise<Array<{ batch: BatchRow; nextLeaf: number }>> {
    return [...this.t.batches.values()]
      .filter(
        (b) => b.status === 'final' && (this.t.webhookAnnouncements.get(String(b.id)) ?? 0) < b.leaf_count,
      )
      .sort((a, b) => a.id - b.id)
      .slice(0, Math.max(0, limit))
      .map((batch) => ({
        batch: copyRow(batch),
        nextLeaf: this.t.webhookAnnouncements.get(String(batch.id)) ?? 0,
      }));
  }

  async advanceAnnouncement(batchId: number, from: number, to: number): Promise<boolean> {
    if ((this.t.webhookAnnouncements.get(String(batchId)) ?? 0) !== from) return false;
    this.t.webhookAnnouncements.set(String(batchId), to);
    return true;
  }

  async batchEvents(batchId: number, fromLeaf: number, limit: number): Promise<BatchEventRef[]> {
    const out: BatchEventRef[] = [];
    for (let leaf = Math.max(0, fromLeaf); out.length < limit; leaf++) {
      const key = this.t.leafSlots.get(compositeKey(batchId, leaf));
      if (key === undefined) break;
      const event = this.t.events.get(key)!;
      const record = this.t.records.get(event.record_id)!;
      out.push({
        leaf_index: leaf,
        record_id: event.record_id,
        seq: event.seq,
        type: event.type,
        merchant_id: record.merchant_id,
        external_id: record.external_id,
      });
    }
    return out;
  }
}

/** Whether `row` comes after `than` newest first: an older (created_at, id). */
function olderThan(row: WebhookDeliveryRow, than: { created_at: string; id: string }): boolean {
  return (compareText(row.created_at, than.created_at) || compareText(row.id, than.id)) < 0;
}

/** Copies of the endpoints not deleted that pass `keep`, oldest first. */
function liveEndpoints(t: MemoryTables, keep: (row: WebhookEndpointRow) => boolean): WebhookEndpointRow[] {
  return [...t.webhookEndpoints.values()]
    .filter((e) => e.deleted_at === null && keep(e))
    .sort((a, b) => compareText(a.created_at, b.created_at) || compareText(a.id, b.id))
    .map(copyRow);
}
