/** EventStore on SQL: lifecycle events, their place in batches, and the queue waiting to be sealed. */
import { sql, type Kysely } from 'kysely';
import { hexToBytes, NODE_SIZE } from '../../core/index.ts';
import type { BatchEventRow, BatchStatus, EventRow, EventWithBatch, LeaseFence } from '../rows.ts';
import type { EventStore } from '../storage.ts';
import { atomically, fenced, slices, type SqlContext } from './context.ts';
import { aggregate, assignOldestUnbatchedSql, IDS_PER_IN_LIST, rowsPerInsert, write } from './dialect.ts';
import { SEALING, type Database } from './schema.ts';

const EVENTS_PER_INSERT = rowsPerInsert(9, 2000);

export class SqlEventStore implements EventStore {
  constructor(private readonly ctx: SqlContext) {}

  async insertMany(rows: readonly EventRow[]): Promise<void> {
    if (rows.length === 0) return;
    await write(() =>
      atomically(this.ctx, async (db) => {
        for (const slice of slices(rows, EVENTS_PER_INSERT)) {
          await this.ctx.compiled.insertRows(db, 'events', slice);
        }
      }),
    );
  }

  async leafAt(recordId: string, seq: number): Promise<string | undefined> {
    const row = await this.ctx.db
      .selectFrom('events')
      .select('leaf')
      .where('record_id', '=', recordId)
      .where('seq', '=', seq)
      .executeTakeFirst();
    return row?.leaf;
  }

  async replaceContent(recordId: string, seq: number, content: string): Promise<boolean> {
    const result = await this.ctx.db
      .updateTable('events')
      .set({ content })
      .where('record_id', '=', recordId)
      .where('seq', '=', seq)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  ofRecord(recordId: string): Promise<EventWithBatch[]> {
    return this.ctx.compiled.run(
      this.ctx.db,
      'events.ofRecord',
      (db) => withBatch(db).where('events.record_id', '=', '').orderBy('events.seq'),
      [recordId],
    );
  }

  /** On the primary key (record_id, seq): as cheap for the 200th event as for the first. */
  ofRecordRange(recordId: string, fromSeq: number, toSeq: number): Promise<EventWithBatch[]> {
    return this.ctx.compiled.run(
      this.ctx.db,
      'events.ofRecordRange',
      (db) =>
        withBatch(db)
          .where('events.record_id', '=', '')
          .where('events.seq', '>=', 0)
          .where('events.seq', '<=', 0)
          .orderBy('events.seq'),
      [recordId, fromSeq, toSeq],
    );
  }

  async issuanceStatuses(recordIds: readonly string[]): Promise<Map<string, BatchStatus | null>> {
    const lists = slices(recordIds, IDS_PER_IN_LIST);
    const read = async (db: Kysely<Database>) => {
      const statuses = new Map<string, BatchStatus | null>();
      for (const ids of lists) {
        const rows = await db
          .selectFrom('events')
          .leftJoin('batches', (join) =>
            join.onRef('batches.id', '=', 'events.batch_id').on('batches.status', '!=', SEALING),
          )
          .select(['events.record_id', 'batches.status'])
          .where('events.record_id', 'in', ids)
          .where('events.seq', '=', 0)
          .execute();
        for (const row of rows) statuses.set(row.record_id, row.status);
      }
      return statuses;
    };
    return lists.length > 1 ? atomically(this.ctx, read) : read(this.ctx.db);
  }

  /** Both reads stay on the partial index events_pending_idx (WHERE batch_id IS NULL). */
  async unbatched(countUpTo: number): Promise<{ count: number; oldestAt: string | null }> {
    const { db } = this.ctx;
    const [counted, oldest] = await Promise.all([
      db
        .selectFrom(
          db
            .selectFrom('events')
            .select('record_id')
            .where('batch_id', 'is', null)
            .limit(Math.max(0, countUpTo))
            .as('waiting'),
        )
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow(),
      db
        .selectFrom('events')
        .select('created_at')
        .where('batch_id', 'is', null)
        .orderBy('created_at')
        .limit(1)
        .executeTakeFirst(),
    ]);
    return { count: aggregate(counted.n), oldestAt: oldest?.created_at ?? null };
  }

  /**
   * Both reads stay off the bulk of the events table: unbatched events are counted from the partial
   * index events_pending_idx, and the rest are summed from the unfinished batches.
   */
  async countAwaitingFinal(): Promise<number> {
    const { db } = this.ctx;
    const [unbatched, inBatches] = await Promise.all([
      db
        .selectFrom('events')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('batch_id', 'is', null)
        .executeTakeFirstOrThrow(),
      db
        .selectFrom('batches')
        .select((eb) => eb.fn.sum('leaf_count').as('n'))
        .where('status', '!=', 'final')
        .executeTakeFirstOrThrow(),
    ]);
    return aggregate(unbatched.n) + aggregate(inBatches.n);
  }

  /**
   * Grouped reads that stay on the partial indexes, joining their records by key: unbatched events
   * from events_pending_idx, then the leaves of the unfinished batches (looked up first, a handful)
   * from events_batch_idx. Never a scan of the batched events.
   */
  async awaitingFinalByMerchant(): Promise<Map<string, number>> {
    // Not one transaction: a batch turning final between the reads moves a count by a batch at most,
    // which the soft bound this serves can take.
    const { db } = this.ctx;
    const unfinished = await db.selectFrom('batches').select('id').where('status', '!=', 'final').execute();
    const groups = [
      await db
        .selectFrom('events')
        .innerJoin('records', 'records.id', 'events.record_id')
        .select(['records.merchant_id', (eb) => eb.fn.countAll().as('n')])
        .where('events.batch_id', 'is', null)
        .groupBy('records.merchant_id')
        .execute(),
    ];
    for (const ids of slices(
      unfinished.map((b) => b.id),
      IDS_PER_IN_LIST,
    )) {
      groups.push(
        await db
          .selectFrom('events')
          .innerJoin('records', 'records.id', 'events.record_id')
          .select(['records.merchant_id', (eb) => eb.fn.countAll().as('n')])
          .where('events.batch_id', 'in', ids)
          .groupBy('records.merchant_id')
          .execute(),
      );
    }
    const counts = new Map<string, number>();
    for (const row of groups.flat()) {
      counts.set(row.merchant_id, (counts.get(row.merchant_id) ?? 0) + aggregate(row.n));
    }
    return counts;
  }

  async assignOldestUnbatched(batchId: number, maxLeaves: number): Promise<Uint8Array> {
    return write(() =>
      atomically(this.ctx, async (db) => {
        await assignOldestUnbatchedSql(batchId, maxLeaves).execute(db);
        return leavesFrom(db, batchId, 0, maxLeaves);
      }),
    );
  }

  ofBatch(batchId: number, fromLeaf = 0, limit?: number): Promise<BatchEventRow[]> {
    return this.ctx.db
      .selectFrom('events')
      .select(['record_id', 'seq', 'type', 'leaf'])
      .where('batch_id', '=', batchId)
      .$if(fromLeaf > 0, (q) => q.where('leaf_index', '>=', fromLeaf))
      .orderBy('leaf_index')
      .$if(limit !== undefined, (q) => q.limit(limit!))
      .execute();
  }

  async assignToSeal(
    batchId: number,
    maxLeaves: number,
    createdUpTo: string,
    fence: LeaseFence,
  ): Promise<Uint8Array | null> {
    return write(() =>
      fenced(this.ctx, fence, async (db) => {
        const seal = await db
          .selectFrom('batches')
          .select('leaf_count')
          .where('id', '=', batchId)
          .where('status', '=', SEALING)
          .executeTakeFirst();
        if (!seal) return null;
        await assignOldestUnbatchedSql(batchId, maxLeaves, seal.leaf_count, createdUpTo).execute(db);
        const leaves = await leavesFrom(db, batchId, seal.leaf_count, maxLeaves);
        await db
          .updateTable('batches')
          .set({ leaf_count: seal.leaf_count + leaves.length / NODE_SIZE })
          .where('id', '=', batchId)
          .execute();
        return leaves;
      }),
    );
  }

  batchLeaves(batchId: number, from: number, count: number): Promise<Uint8Array> {
    return leavesFrom(this.ctx.db, batchId, from, count);
  }

  async createdAtOfLeaves(batchId: number, indexes: readonly number[]): Promise<(string | undefined)[]> {
    const found = new Map<number, string>();
    for (const slice of slices(indexes, IDS_PER_IN_LIST)) {
      const rows = await this.ctx.db
        .selectFrom('events')
        .select(['leaf_index', 'created_at'])
        .where('batch_id', '=', batchId)
        .where('leaf_index', 'in', slice)
        .execute();
      for (const row of rows) found.set(row.leaf_index!, row.created_at);
    }
    return indexes.map((index) => found.get(index));
  }
}

/**
 * The leaves at leaf indexes from.. of batch `batchId`, at most `count`, packed; a range read on
 * events_batch_idx that stops at the first missing index.
 */
async function leavesFrom(
  db: Kysely<Database>,
  batchId: number,
  from: number,
  count: number,
): Promise<Uint8Array> {
  const rows = await db
    .selectFrom('events')
    .select(['leaf', 'leaf_index'])
    .where('batch_id', '=', batchId)
    .where('leaf_index', '>=', from)
    .where('leaf_index', '<', from + count)
    .orderBy('leaf_index')
    .execute();
  let n = 0;
  while (n < rows.length && rows[n]!.leaf_index === from + n) n++;
  const packed = new Uint8Array(n * NODE_SIZE);
  for (let i = 0; i < n; i++) packed.set(hexToBytes(rows[i]!.leaf), i * NODE_SIZE);
  return packed;
}

/** Events with the state of the batch holding each (every batch field null while unbatched). */
function withBatch(db: Kysely<Database>) {
  return (
    db
      .selectFrom('events')
      // An open seal's row joins nothing (a literal in the ON, so compiled queries keep their parameters).
      .leftJoin('batches', (join) =>
        join.onRef('batches.id', '=', 'events.batch_id').on('batches.status', '!=', sql.lit(SEALING)),
      )
      .selectAll('events')
      .select([
        'batches.status as batch_status',
        'batches.tx_hash',
        'batches.block_number',
        'batches.root',
        'batches.leaf_count as batch_leaf_count',
        'batches.chain_root',
      ])
  );
}
