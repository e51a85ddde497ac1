/**
 * Sealing batches and reading them back. Sealing assigns the oldest unbatched events to the next
 * batch id, builds the tree once and stores every node, so proofs are point lookups, never a rebuild.
 */
import { sql, type Selectable } from 'kysely';
import {
  bytesToHex,
  hexToBytes,
  MerkleTree,
  NODE_SIZE,
  proofPositions,
  type Hex,
  type NodePosition,
} from '../core/index.ts';
import type { BatchesTable } from '../storage/schema.ts';
import { iso, type ServiceContext } from './context.ts';
import { notFound } from './errors.ts';

export type BatchRow = Selectable<BatchesTable>;

/** Nodes per stored chunk: a proof reads one 8 KB chunk per level. */
export const NODES_PER_CHUNK = 256;

/**
 * Seals up to `maxLeaves` pending events into batch max(id)+1, in one transaction: either the batch,
 * its nodes and every event's place in it are saved, or none of them. Returns null when nothing waits.
 */
export async function sealBatch(ctx: ServiceContext, maxLeaves: number): Promise<BatchRow | null> {
  return ctx.db.transaction().execute(async (trx) => {
    const last = await trx
      .selectFrom('batches')
      .select((eb) => eb.fn.max('id').as('max'))
      .executeTakeFirst();
    const batchId = Number(last?.max ?? 0) + 1;

    // One statement assigns batch and leaf index to the oldest pending events (SQLite >= 3.33 and
    // PostgreSQL both take UPDATE ... FROM with a window function).
    await sql`
      UPDATE events SET batch_id = ${batchId}, leaf_index = ranked.position
      FROM (
        SELECT record_id, seq, row_number() OVER (ORDER BY created_at, record_id, seq) - 1 AS position
        FROM events WHERE batch_id IS NULL
        ORDER BY created_at, record_id, seq
        LIMIT ${maxLeaves}
      ) AS ranked
      WHERE events.record_id = ranked.record_id AND events.seq = ranked.seq`.execute(trx);

    const leaves = await trx
      .selectFrom('events')
      .select('leaf')
      .where('batch_id', '=', batchId)
      .orderBy('leaf_index')
      .execute();
    if (leaves.length === 0) return null;

    const packed = new Uint8Array(leaves.length * NODE_SIZE);
    leaves.forEach((row, i) => packed.set(hexToBytes(row.leaf), i * NODE_SIZE));
    const tree = MerkleTree.fromPacked(packed);

    const batch: BatchRow = {
      id: batchId,
      root: tree.root,
      leaf_count: leaves.length,
      status: 'sealed',
      sealed_at: iso(ctx),
      raw_tx: null,
      tx_hash: null,
      block_number: null,
      block_hash: null,
      anchored_at: null,
      final_at: null,
      chain_root: null,
    };
    await trx.insertInto('batches').values(batch).execute();
    const chunkRows = [];
    for (let level = 0; level < tree.levels.length; level++) {
      const nodes = tree.levels[level]!;
      const chunkBytes = NODES_PER_CHUNK * NODE_SIZE;
      for (let chunk = 0; chunk * chunkBytes < nodes.length; chunk++) {
        const bytes = nodes.subarray(chunk * chunkBytes, (chunk + 1) * chunkBytes);
        chunkRows.push({
          batch_id: batchId,
          level,
          chunk,
          nodes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length),
        });
      }
    }
    for (let i = 0; i < chunkRows.length; i += 500) {
      await trx
        .insertInto('tree_nodes')
        .values(chunkRows.slice(i, i + 500))
        .execute();
    }
    return batch;
  });
}

export async function getBatch(ctx: ServiceContext, id: number): Promise<BatchRow> {
  const batch = await ctx.db.selectFrom('batches').selectAll().where('id', '=', id).executeTakeFirst();
  if (!batch) throw notFound('batch_not_found', `no batch with id ${id}`);
  return batch;
}

export async function listBatches(ctx: ServiceContext, after: number, limit: number): Promise<BatchRow[]> {
  return ctx.db
    .selectFrom('batches')
    .selectAll()
    .where('id', '>', after)
    .orderBy('id')
    .limit(limit)
    .execute();
}

/** The proof of an event in a sealed batch, from the cache when its batch is final. */
export async function proofOfEvent(
  ctx: ServiceContext,
  event: {
    batch_id: number | null;
    leaf_index: number | null;
    batch_leaf_count: number | null;
    batch_status: string | null;
  },
): Promise<Hex[]> {
  const cached = ctx.proofCache?.get(event.batch_id!, event.leaf_index!);
  if (cached) return cached;
  const proof = await proofFromStore(ctx, event.batch_id!, event.batch_leaf_count!, event.leaf_index!);
  if (event.batch_status === 'final') ctx.proofCache?.set(event.batch_id!, event.leaf_index!, proof);
  return proof;
}

/**
 * The proof of leaf `index` in batch `batchId`: one query that joins the ~log2(n) wanted
 * (level, chunk) keys on the primary key and returns only the 32 bytes of each sibling.
 * (An OR of per-level conditions made SQLite scan every chunk of the batch.)
 */
export async function proofFromStore(
  ctx: ServiceContext,
  batchId: number,
  leafCount: number,
  index: number,
): Promise<Hex[]> {
  const positions = proofPositions(leafCount, index);
  if (positions.length === 0) return [];
  const wanted = sql.join(
    positions.map(
      (p) =>
        sql`(CAST(${p.level} AS integer), CAST(${chunkOf(p)} AS integer), CAST(${(p.index % NODES_PER_CHUNK) * NODE_SIZE + 1} AS integer))`,
    ),
  );
  const { rows } = await sql<{ level: number; node: Uint8Array }>`
    WITH wanted(level, chunk, pos) AS (VALUES ${wanted})
    SELECT wanted.level AS level, substr(tree_nodes.nodes, wanted.pos, ${NODE_SIZE}) AS node
    FROM wanted JOIN tree_nodes
      ON tree_nodes.batch_id = ${batchId} AND tree_nodes.level = wanted.level AND tree_nodes.chunk = wanted.chunk`.execute(
    ctx.db,
  );
  // A proof has at most one sibling per level.
  const byLevel = new Map(rows.map((r) => [Number(r.level), r.node]));
  return positions.map((p) => {
    const node = byLevel.get(p.level);
    if (!node || node.length !== NODE_SIZE) {
      throw new Error(`batch ${batchId} is missing tree chunk ${p.level}:${chunkOf(p)}`);
    }
    return bytesToHex(node);
  });
}

function chunkOf(p: NodePosition): number {
  return Math.floor(p.index / NODES_PER_CHUNK);
}

/** The batch's leaves, 32 bytes each in tree order: what an auditor rebuilds the root from. */
export async function batchLeaves(ctx: ServiceContext, batchId: number): Promise<Buffer> {
  const batch = await getBatch(ctx, batchId);
  const rows = await ctx.db
    .selectFrom('tree_nodes')
    .select('nodes')
    .where('batch_id', '=', batchId)
    .where('level', '=', 0)
    .orderBy('chunk')
    .execute();
  const leaves = Buffer.concat(rows.map((r) => r.nodes));
  if (leaves.length !== batch.leaf_count * NODE_SIZE)
    throw new Error(`batch ${batchId} leaves are incomplete`);
  return leaves;
}
