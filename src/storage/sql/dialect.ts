/**
 * Every difference between SQLite and PostgreSQL that the stores meet, and every database error code
 * they read, in one place. The rest of src/storage/sql writes one Kysely query for both. (Migration
 * 001, released as it is, picks its blob column type itself: `blob` on SQLite, `bytea` on PostgreSQL.)
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { DuplicateKeyError } from '../errors.ts';
import type { Database } from './schema.ts';

export type DialectName = 'sqlite' | 'postgres';

/** Unique-key violations: PostgreSQL's SQLSTATE, better-sqlite3's extended result codes. */
const DUPLICATE_KEY_CODES = new Set(['23505', 'SQLITE_CONSTRAINT_PRIMARYKEY', 'SQLITE_CONSTRAINT_UNIQUE']);

/** `err` as the storage error callers act on: a DuplicateKeyError for a unique violation, else itself. */
export function storageError(err: unknown): unknown {
  if (err instanceof DuplicateKeyError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && DUPLICATE_KEY_CODES.has(code)) {
    return new DuplicateKeyError((err as Error).message, { cause: err });
  }
  return err;
}

/** Runs one write, translating a unique violation into DuplicateKeyError. */
export async function write<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw storageError(err);
  }
}

/**
 * Bound parameters one statement may carry: SQLite's limit (SQLITE_MAX_VARIABLE_NUMBER, 32,766);
 * PostgreSQL's is 65,535. Multi-row inserts stay under the smaller.
 */
const MAX_PARAMETERS = 32_766;

/** Rows per multi-row INSERT of rows with `columns` columns, at most `most` (to bound statement size). */
export function rowsPerInsert(columns: number, most: number): number {
  return Math.min(most, Math.floor(MAX_PARAMETERS / columns));
}

/** Ids per IN list: far under either limit, and a plan both databases keep on the index. */
export const IDS_PER_IN_LIST = 500;

/**
 * Assigns batch `batchId` and leaf indexes firstIndex, firstIndex + 1, ... to the oldest `maxLeaves`
 * unbatched events (by created_at, record_id, seq), created at or before `createdUpTo` when given,
 * in one statement. SQLite (3.33 and later) and PostgreSQL both take UPDATE ... FROM with a window
 * function. The oldest are picked first (ORDER BY and LIMIT on the partial index events_pending_idx)
 * and numbered after, so a step costs its own size whatever the backlog behind it: numbering the
 * whole backlog and then cutting it let PostgreSQL sort every waiting event at every step.
 */
export function assignOldestUnbatchedSql(
  batchId: number,
  maxLeaves: number,
  firstIndex = 0,
  createdUpTo?: string,
): RawBuilder<unknown> {
  const upTo = createdUpTo === undefined ? sql`` : sql`AND created_at <= ${createdUpTo}`;
  return sql`
    UPDATE events SET batch_id = ${batchId}, leaf_index = ${firstIndex} + ranked.position
    FROM (
      SELECT record_id, seq, row_number() OVER (ORDER BY created_at, record_id, seq) - 1 AS position
      FROM (
        SELECT record_id, seq, created_at FROM events
        WHERE batch_id IS NULL ${upTo}
        ORDER BY created_at, record_id, seq
        LIMIT ${maxLeaves}
      ) AS oldest
    ) AS ranked
    WHERE events.record_id = ranked.record_id AND events.seq = ranked.seq`;
}

/**
 * Deletes at most `limit` sightings of windows before `beforeWindow`. Neither SQLite (as built) nor
 * PostgreSQL takes DELETE ... LIMIT, so a limited subquery picks the rows by primary key; both take
 * the row-value IN.
 */
export function pruneSightingsSql(beforeWindow: number, limit: number): RawBuilder<unknown> {
  return sql`
    DELETE FROM scan_sightings WHERE (record_id, window_index, scanner) IN (
      SELECT record_id, window_index, scanner FROM scan_sightings
      WHERE window_index < ${beforeWindow}
      LIMIT ${limit}
    )`;
}

/** One node wanted from the tree: answer `slot`, read `size` bytes at byte `offset` of a chunk. */
export interface WantedNode {
  slot: number;
  level: number;
  chunk: number;
  offset: number;
}

/**
 * Reads many nodes of one batch's tree in one statement: the wanted (level, chunk) keys, as a VALUES
 * list, join the primary key, and substr cuts each node out of its chunk on the server, so only the
 * wanted bytes travel. (An OR of per-level conditions made SQLite scan every chunk of the batch.)
 * The CASTs give PostgreSQL the VALUES columns' types; substr counts from 1 on blobs and bytea alike.
 */
export function nodesSql(
  batchId: number,
  wanted: readonly WantedNode[],
  size: number,
): RawBuilder<{ slot: number; node: Uint8Array }> {
  const rows = sql.join(
    wanted.map(
      (w) =>
        sql`(CAST(${w.slot} AS integer), CAST(${w.level} AS integer), CAST(${w.chunk} AS integer), CAST(${w.offset + 1} AS integer))`,
    ),
  );
  return sql<{ slot: number; node: Uint8Array }>`
    WITH wanted(slot, level, chunk, pos) AS (VALUES ${rows})
    SELECT wanted.slot AS slot, substr(tree_nodes.nodes, wanted.pos, ${size}) AS node
    FROM wanted JOIN tree_nodes
      ON tree_nodes.batch_id = ${batchId} AND tree_nodes.level = wanted.level AND tree_nodes.chunk = wanted.chunk`;
}

/**
 * Storage.purgeOverwritten: SQLite copies its write-ahead log into the main file and truncates it,
 * so the old pages the log shadowed are overwritten (their freed space already zeroed by
 * secure_delete) and the log holds none. PostgreSQL's old row versions are VACUUM's to reclaim.
 */
export async function purgeOverwrittenSql(db: Kysely<Database>, dialect: DialectName): Promise<void> {
  if (dialect === 'sqlite') await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(db);
}

/**
 * Reads many directory pages by exact key in one statement: the wanted (version, path) keys, as a
 * VALUES list, join the primary key. The CASTs give PostgreSQL the VALUES columns' types.
 */
export function directoryPagesSql(
  keys: readonly { version: number; path: string }[],
): RawBuilder<{ slot: number; page: Uint8Array }> {
  const rows = sql.join(
    keys.map(
      (k, slot) => sql`(CAST(${slot} AS integer), CAST(${k.version} AS integer), CAST(${k.path} AS text))`,
    ),
  );
  // CROSS JOIN: SQLite then takes `wanted` as the outer loop and looks each key up by the primary
  // key. Without table statistics, a plain JOIN of a few hundred keys made it scan every page of
  // every version instead (88 ms against 0.8 ms for 256 keys over a million pages). PostgreSQL plans
  // it as the inner join it is.
  return sql<{ slot: number; page: Uint8Array }>`
    WITH wanted(slot, version, path) AS (VALUES ${rows})
    SELECT wanted.slot AS slot, p.page AS page
    FROM wanted CROSS JOIN directory_pages p
    WHERE p.version = wanted.version AND p.path = wanted.path`;
}

/** Bytes as a blob (SQLite) or bytea (PostgreSQL) parameter: both drivers take a Buffer, without a copy. */
export function blob(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/**
 * A COUNT or SUM as a number: PostgreSQL returns them as text (bigint, numeric) and SUM over no
 * rows as null; SQLite returns numbers.
 */
export function aggregate(value: number | string | bigint | null | undefined): number {
  return Number(value ?? 0);
}
