/**
 * BatchStore on SQL: batches, their state changed only by a lease-fenced compare-and-set, and their
 * trees stored whole at seal, level by level in chunks, so a proof is a handful of point reads.
 */
import type { Kysely } from 'kysely';
import { NODE_SIZE, type Hex, type NodePosition } from '../../core/index.ts';
import type { BatchChange, BatchRow, BatchStatus, LeaseFence, OpenSeal, SealedTree } from '../rows.ts';
import type { BatchStore } from '../storage.ts';
import { atomically, fenced, slices, type SqlContext } from './context.ts';
import { aggregate, blob, nodesSql, write } from './dialect.ts';
import { SEALING, type Database, type TreeNodesTable } from './schema.ts';

/** Nodes per stored chunk: a proof reads one 8 KB chunk per level. */
export const NODES_PER_CHUNK = 256;
const CHUNK_BYTES = NODES_PER_CHUNK * NODE_SIZE;
/** Chunks per INSERT: about 4 MB a statement. */
const CHUNKS_PER_INSERT = 500;
/** Chunks per storeSealNodes call: 256 KB, a statement of a few milliseconds. */
const CHUNKS_PER_SEAL_STEP = 32;

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
    const chunks = chunksOf(batch.id, tree);
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
    return this.ctx.db
      .selectFrom('batches')
      .selectAll()
      .where('id', '=', id)
      .where('status', '!=', SEALING)
      .executeTakeFirst();
  }

  list(after: number, limit: number): Promise<BatchRow[]> {
    return this.ctx.db
      .selectFrom('batches')
      .selectAll()
      .where('id', '>', after)
      .where('status', '!=', SEALING)
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  unfinished(): Promise<BatchRow[]> {
    return this.ctx.db
      .selectFrom('batches')
      .selectAll()
      .where('status', 'not in', ['final', SEALING])
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

  latestAnchoredState(): Promise<BatchRow | undefined> {
    return this.ctx.db
      .selectFrom('batches')
      .selectAll()
      .where('status', 'in', ['anchored', 'final'])
      .where('state_root', 'is not', null)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  /** The newest batch, if it is an open seal: one primary-key read, cheap enough for every tick. */
  async openSeal(): Promise<OpenSeal | undefined> {
    const { db } = this.ctx;
    return db
      .selectFrom('batches')
      .select(['id', 'leaf_count'])
      .where('id', '=', (eb) => eb.selectFrom('batches').select((e) => e.fn.max('id').as('max')))
      .where('status', '=', SEALING)
      .executeTakeFirst();
  }

  async beginSeal(id: number, fence: LeaseFence): Promise<boolean> {
    const begun = await write(() =>
      fenced(this.ctx, fence, async (db) => {
        await db
          .insertInto('batches')
          .values({ ...EMPTY_ANCHOR, id, root: '', leaf_count: 0, status: SEALING, sealed_at: '' })
          .execute();
        return true;
      }),
    );
    return begun === true;
  }

  /**
   * Whole chunks from the one holding node `from`, at most CHUNKS_PER_SEAL_STEP and within one
   * level, upserted so a part an interrupted sealer stored is overwritten.
   */
  async storeSealNodes(
    id: number,
    tree: SealedTree,
    from: number,
    fence: LeaseFence,
  ): Promise<number | null> {
    let levelStart = 0;
    let level = 0;
    while (level < tree.levels.length && levelStart + tree.levels[level]!.length / NODE_SIZE <= from) {
      levelStart += tree.levels[level]!.length / NODE_SIZE;
      level++;
    }
    if (level === tree.levels.length) return levelStart;
    const nodes = tree.levels[level]!;
    const firstChunk = Math.floor((from - levelStart) / NODES_PER_CHUNK);
    const rows: TreeNodesTable[] = [];
    for (let chunk = firstChunk; chunk < firstChunk + CHUNKS_PER_SEAL_STEP; chunk++) {
      const bytes = nodes.subarray(chunk * CHUNK_BYTES, (chunk + 1) * CHUNK_BYTES);
      if (bytes.length === 0) break;
      rows.push({ batch_id: id, level, chunk, nodes: blob(bytes) });
    }
    const stored = await fenced(this.ctx, fence, async (db) => {
      if (!(await isOpenSeal(db, id))) return false;
      await db
        .insertInto('tree_nodes')
        .values(rows)
        .onConflict((oc) =>
          oc
            .columns(['batch_id', 'level', 'chunk'])
            .doUpdateSet((eb) => ({ nodes: eb.ref('excluded.nodes') })),
        )
        .execute();
      return true;
    });
    if (stored !== true) return null;
    return Math.min(
      levelStart + nodes.length / NODE_SIZE,
      levelStart + (firstChunk + rows.length) * NODES_PER_CHUNK,
    );
  }

  async completeSeal(
    id: number,
    root: Hex,
    leafCount: number,
    sealedAt: string,
    fence: LeaseFence,
    stateRoot: Hex | null = null,
  ): Promise<boolean> {
    const completed = await fenced(this.ctx, fence, async (db) => {
      const result = await db
        .updateTable('batches')
        .set({ status: 'sealed', root, sealed_at: sealedAt, state_root: stateRoot })
        .where('id', '=', id)
        .where('status', '=', SEALING)
        .where('leaf_count', '=', leafCount)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    });
    return completed === true;
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

const EMPTY_ANCHOR = {
  raw_tx: null,
  tx_hash: null,
  block_number: null,
  block_hash: null,
  anchored_at: null,
  final_at: null,
  chain_root: null,
  state_root: null,
} as const;

/** Every node of `tree`, as the chunk rows of batch `batchId`. */
function chunksOf(batchId: number, tree: SealedTree): TreeNodesTable[] {
  const chunks: TreeNodesTable[] = [];
  tree.levels.forEach((nodes, level) => {
    for (let chunk = 0; chunk * CHUNK_BYTES < nodes.length; chunk++) {
      const bytes = nodes.subarray(chunk * CHUNK_BYTES, (chunk + 1) * CHUNK_BYTES);
      chunks.push({ batch_id: batchId, level, chunk, nodes: blob(bytes) });
    }
  });
  return chunks;
}

/** Whether batch `id` is an open seal. */
export async function isOpenSeal(db: Kysely<Database>, id: number): Promise<boolean> {
  const row = await db
    .selectFrom('batches')
    .select('id')
    .where('id', '=', id)
    .where('status', '=', SEALING)
    .executeTakeFirst();
  return row !== undefined;
}
