/**
 * WebhookStore on SQL: endpoints, the outbox, the attempt log and the item.final announcements.
 * Claims and attempt ends are single conditional UPDATEs, so racing workers on several instances are
 * decided by the database.
 */
import type { ExpressionBuilder, Kysely } from 'kysely';
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
import { atomically, slices, type SqlContext } from './context.ts';
import { IDS_PER_IN_LIST, rowsPerInsert, write } from './dialect.ts';
import type { Database } from './schema.ts';

const DELIVERIES_PER_INSERT = rowsPerInsert(13, 1000);

/** Unclaimed, or claimed by a worker whose claim has run out at `now`. */
const claimable = (now: string) => (eb: ExpressionBuilder<Database, 'webhook_deliveries'>) =>
  eb.or([eb('claim_expires_at', 'is', null), eb('claim_expires_at', '<', now)]);

export class SqlWebhookStore implements WebhookStore {
  constructor(private readonly ctx: SqlContext) {}

  async insertEndpoint(row: WebhookEndpointRow): Promise<void> {
    await write(() => this.ctx.db.insertInto('webhook_endpoints').values(row).execute());
  }

  endpoint(id: string): Promise<WebhookEndpointRow | undefined> {
    return this.ctx.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirst();
  }

  endpoints(owner: string): Promise<WebhookEndpointRow[]> {
    return this.live(this.ctx.db).where('owner', '=', owner).execute();
  }

  /** Owners have a handful of endpoints each: the event types are matched here, not in SQL. */
  async subscribers(owners: readonly string[], type: string): Promise<WebhookEndpointRow[]> {
    if (owners.length === 0) return [];
    const rows = await this.live(this.ctx.db).where('owner', 'in', owners).execute();
    return rows.filter((row) => (JSON.parse(row.event_types) as string[]).includes(type));
  }

  async rotateSecret(
    id: string,
    change: Pick<WebhookEndpointRow, 'secret' | 'previous_secret' | 'previous_secret_until'>,
  ): Promise<boolean> {
    const { secret, previous_secret, previous_secret_until } = change;
    const result = await this.ctx.db
      .updateTable('webhook_endpoints')
      .set({ secret, previous_secret, previous_secret_until })
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async deleteEndpoint(id: string, at: string): Promise<boolean> {
    return atomically(this.ctx, async (db) => {
      const result = await db
        .updateTable('webhook_endpoints')
        .set({ deleted_at: at })
        .where('id', '=', id)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      await db
        .updateTable('webhook_deliveries')
        .set({ status: 'failed', last_error: 'endpoint deleted', next_attempt_at: null })
        .where('endpoint_id', '=', id)
        .where('status', '=', 'pending')
        .execute();
      return true;
    });
  }

  async enqueue(message: WebhookMessageRow, deliveries: readonly WebhookDeliveryRow[]): Promise<void> {
    await write(() =>
      atomically(this.ctx, async (db) => {
        await db.insertInto('webhook_messages').values(message).execute();
        for (const slice of slices(deliveries, DELIVERIES_PER_INSERT)) {
          await db.insertInto('webhook_deliveries').values(slice).execute();
        }
      }),
    );
  }

  message(id: string): Promise<WebhookMessageRow | undefined> {
    return this.ctx.db.selectFrom('webhook_messages').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * One UPDATE over the due rows a subquery picks. The outer WHERE repeats the conditions: on
   * PostgreSQL a worker that waited for a racing claim's row lock re-checks them on the row as that
   * claim left it, and skips it.
   */
  claimDue(claim: string, now: string, until: string, limit: number): Promise<WebhookDeliveryRow[]> {
    const { db } = this.ctx;
    const due = db
      .selectFrom('webhook_deliveries')
      .select('id')
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where(claimable(now))
      .orderBy('next_attempt_at')
      .orderBy('id')
      .limit(limit);
    return db
      .updateTable('webhook_deliveries')
      .set({ claimed_by: claim, claim_expires_at: until })
      .where('id', 'in', due)
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where(claimable(now))
      .returningAll()
      .execute();
  }

  async finishAttempt(
    id: string,
    claim: string,
    attempt: WebhookAttemptRow,
    outcome: WebhookDeliveryOutcome,
  ): Promise<boolean> {
    return write(() =>
      atomically(this.ctx, async (db) => {
        const { status, failures, next_attempt_at, last_status_code, last_error, delivered_at } = outcome;
        const result = await db
          .updateTable('webhook_deliveries')
          .set({
            status,
            failures,
            next_attempt_at,
            last_status_code,
            last_error,
            delivered_at,
            attempts: attempt.attempt,
            claimed_by: null,
            claim_expires_at: null,
          })
          .where('id', '=', id)
          .where('claimed_by', '=', claim)
          .where('attempts', '=', attempt.attempt - 1)
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) !== 1) return false;
        await db
          .insertInto('webhook_attempts')
          .values({ ...attempt, delivery_id: id })
          .execute();
        return true;
      }),
    );
  }

  async requeue(id: string, now: string): Promise<boolean> {
    const result = await this.ctx.db
      .updateTable('webhook_deliveries')
      .set({ status: 'pending', failures: 0, next_attempt_at: now, claimed_by: null, claim_expires_at: null })
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  deliveries(
    endpointId: string,
    before: { created_at: string; id: string } | null,
    limit: number,
  ): Promise<Array<WebhookDeliveryRow & { type: string }>> {
    let query = this.ctx.db
      .selectFrom('webhook_deliveries')
      .innerJoin('webhook_messages', 'webhook_messages.id', 'webhook_deliveries.message_id')
      .selectAll('webhook_deliveries')
      .select('webhook_messages.type')
      .where('webhook_deliveries.endpoint_id', '=', endpointId);
    if (before) {
      query = query.where((eb) =>
        eb.or([
          eb('webhook_deliveries.created_at', '<', before.created_at),
          eb.and([
            eb('webhook_deliveries.created_at', '=', before.created_at),
            eb('webhook_deliveries.id', '<', before.id),
          ]),
        ]),
      );
    }
    return query
      .orderBy('webhook_deliveries.created_at', 'desc')
      .orderBy('webhook_deliveries.id', 'desc')
      .limit(limit)
      .execute();
  }

  delivery(endpointId: string, messageId: string): Promise<WebhookDeliveryRow | undefined> {
    return this.ctx.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('endpoint_id', '=', endpointId)
      .where('message_id', '=', messageId)
      .executeTakeFirst();
  }

  async attempts(deliveryIds: readonly string[]): Promise<WebhookAttemptRow[]> {
    const out: WebhookAttemptRow[] = [];
    for (const ids of slices([...new Set(deliveryIds)], IDS_PER_IN_LIST)) {
      out.push(
        ...(await this.ctx.db
          .selectFrom('webhook_attempts')
          .selectAll()
          .where('delivery_id', 'in', ids)
          .execute()),
      );
    }
    return out.sort((a, b) =>
      a.delivery_id < b.delivery_id ? -1 : a.delivery_id > b.delivery_id ? 1 : a.attempt - b.attempt,
    );
  }

  async unannouncedFinalBatches(limit: number): Promise<Array<{ batch: BatchRow; nextLeaf: number }>> {
    const rows = await this.ctx.db
      .selectFrom('batches')
      .leftJoin('webhook_announcements', 'webhook_announcements.batch_id', 'batches.id')
      .selectAll('batches')
      .select('webhook_announcements.next_leaf')
      .where('batches.status', '=', 'final')
      .where((eb) =>
        eb.or([
          eb('webhook_announcements.batch_id', 'is', null),
          eb('webhook_announcements.next_leaf', '<', eb.ref('batches.leaf_count')),
        ]),
      )
      .orderBy('batches.id')
      .limit(limit)
      .execute();
    return rows.map(({ next_leaf, ...batch }) => ({ batch, nextLeaf: next_leaf ?? 0 }));
  }

  /** A batch not yet started gets its row at 0 first; the UPDATE's WHERE then decides racing workers. */
  async advanceAnnouncement(batchId: number, from: number, to: number): Promise<boolean> {
    return atomically(this.ctx, async (db) => {
      if (from === 0) {
        await db
          .insertInto('webhook_announcements')
          .values({ batch_id: batchId, next_leaf: 0 })
          .onConflict((oc) => oc.column('batch_id').doNothing())
          .execute();
      }
      const result = await db
        .updateTable('webhook_announcements')
        .set({ next_leaf: to })
        .where('batch_id', '=', batchId)
        .where('next_leaf', '=', from)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    });
  }

  /** On the unique (batch_id, leaf_index) index: a page costs `limit` rows however large the batch. */
  batchEvents(batchId: number, fromLeaf: number, limit: number): Promise<BatchEventRef[]> {
    return this.ctx.db
      .selectFrom('events')
      .innerJoin('records', 'records.id', 'events.record_id')
      .select([
        'events.leaf_index',
        'events.record_id',
        'events.seq',
        'events.type',
        'records.merchant_id',
        'records.external_id',
      ])
      .where('events.batch_id', '=', batchId)
      .where('events.leaf_index', '>=', fromLeaf)
      .orderBy('events.leaf_index')
      .limit(limit)
      .execute() as Promise<BatchEventRef[]>;
  }

  /** Endpoints not deleted, in list order. */
  private live(db: Kysely<Database>) {
    return db
      .selectFrom('webhook_endpoints')
      .selectAll()
      .where('deleted_at', 'is', null)
      .orderBy('created_at')
      .orderBy('id');
  }
}
