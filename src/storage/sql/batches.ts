/**
 * BatchStore on SQL: batches, their state changed only by a lease-fenced compare-and-set, and their
 * trees stored whole at seal, level by level in chunks, so a proof is a handful of point reads.
 */
import { NODE_SIZE, type NodePosition } from '../../core/index.ts';
import type { BatchChange, BatchRow, BatchStatus, LeaseFence, SealedTree } from '../rows.ts';
import type { BatchStore } from '../storage.ts';
import { atomically, slices, type SqlContext } from './context.ts';
import { aggregate, blob, nodesSql, write } from './dialect.ts';
import type { TreeNodesTable } from './schema.ts';

/** Nodes per stored chunk: a proof reads one 8 KB chunk per level. */
export const NODES_PER_CHUNK = 256;
const CHUNK_BYTES = NODES_PER_CHUNK * NODE_SIZE;
/** Chunks per INSERT: about 4 MB a statement. */
const CHUNKS_PER_INSERT = 500;

export class SqlBatchStore implements BatchStore {
  constructor(private readonly ctx: SqlContext) {}

  async nextId(): Promise<number> {
    const last = await this.ctx.db
      .selectFrom('batches')
      .select((eb) => eb.fn.max('id').as('max'))
      .executeTakeFirst();
    return aggregate(last?.max) + 1;
  }

  async insertSealed(batch: BatchRow, tree: SealedTree): Promise<void> {
    const chunks: TreeNodesTable[] = [];
    tree.levels.forEach((nodes, level) => {
      for (let chunk = 0; chunk * CHUNK_BYTES < nodes.length; chunk++) {
        const bytes = nodes.subarray(chunk * CHUNK_BYTES, (chunk + 1) * CHUNK_BYTES);
        chunks.push({ batch_id: batch.id, level, chunk, nodes: blob(bytes) });
      }
    });
    await write(() =>
      atomically(this.ctx, async (db) => {
        await db
          .insertInto('batches')
          .values({ ...batch, status: 'sealed' })
          .execute();
        for (const slice of slices(chunks, CHUNKS_PER_INSERT)) {
          await db.insertInto('tree_nodes').values(slice).execute();
        }
      }),
    );
  }

  get(id: number): Promise<BatchRow | undefined> {
    return this.ctx.db.selectFrom('batches').selectAll().where('id', '=', id).executeTakeFirst();
  }

  list(after: number, limit: number): Promise<BatchRow[]> {
    return this.ctx.db
      .selectFrom('batches')
      .selectAll()
      .where('id', '>', after)
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  unfinished(): Promise<BatchRow[]> {
    return this.ctx.db
      .selectFrom('batches')
      .selectAll()
      .where('status', '!=', 'final')
      .orderBy('id')
      .execute();
  }

  newestFinal(limit: number): Promise<BatchRow[]> {
    return this.ctx.db
      .selectFrom('batches')
      .selectAll()
      .where('status', '=', 'final')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
  }

  async withStatus(statuses: readonly BatchStatus[]): Promise<BatchRow[]> {
    if (statuses.length === 0) return [];
    return this.ctx.db
      .selectFrom('batches')
      .selectAll()
      .where('status', 'in', statuses)
      .orderBy('id')
      .execute();
  }

  /** One UPDATE whose WHERE checks the state we read and, in the same statement, the lease. */
  async transition(
    id: number,
    from: BatchStatus,
    to: BatchStatus,
    change: BatchChange,
    fence: LeaseFence,
  ): Promise<boolean> {
    const result = await this.ctx.db
      .updateTable('batches')
      .set({ ...change, status: to })
      .where('id', '=', id)
      .where('status', '=', from)
      .where((eb) =>
        eb.exists(
          eb
            .selectFrom('leases')
            .select('name')
            .where('name', '=', fence.name)
            .where('holder', '=', fence.holder)
            .where('token', '=', fence.token),
        ),
      )
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async nodes(batchId: number, positions: readonly NodePosition[]): Promise<Uint8Array[]> {
    if (positions.length === 0) return [];
    const wanted = positions.map((p, slot) => ({
      slot,
      level: p.level,
      chunk: Math.floor(p.index / NODES_PER_CHUNK),
      offset: (p.index % NODES_PER_CHUNK) * NODE_SIZE,
    }));
    const { rows } = await nodesSql(batchId, wanted, NODE_SIZE).execute(this.ctx.db);
    const bySlot = new Map(rows.map((r) => [Number(r.slot), r.node]));
    return wanted.map((w) => {
      const node = bySlot.get(w.slot);
      if (!node || node.length !== NODE_SIZE) {
        throw new Error(`batch ${batchId} is missing tree chunk ${w.level}:${w.chunk}`);
      }
      return node;
    });
  }

  async leaves(batchId: number): Promise<Uint8Array> {
    const rows = await this.ctx.db
      .selectFrom('tree_nodes')
      .select('nodes')
      .where('batch_id', '=', batchId)
      .where('level', '=', 0)
      .orderBy('chunk')
      .execute();
    return Buffer.concat(rows.map((r) => r.nodes));
  }
}
