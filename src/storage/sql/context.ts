/** What every SQL store is built on: the database or a transaction on it, and the compiled queries. */
import type { Kysely, Transaction } from 'kysely';
import type { LeaseFence } from '../rows.ts';
import type { CompiledQueries } from './compiled.ts';
import type { Database } from './schema.ts';

export interface SqlContext {
  /** The database, or a transaction on it: the stores built on a transaction write into it. */
  db: Kysely<Database>;
  compiled: CompiledQueries;
}

/**
 * Runs `work` atomically: in the surrounding transaction when there is one, else in its own, so a
 * call made of several statements is still one change (the stores' "atomic on its own").
 */
export function atomically<T>(ctx: SqlContext, work: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  if (ctx.db.isTransaction) return work(ctx.db);
  return ctx.db.transaction().execute((trx: Transaction<Database>) => work(trx));
}

/** `items` in slices of at most `size`. */
export function slices<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Runs `work` atomically only while `fence` holds its lease, or returns null and writes nothing. The
 * check is a write to the lease row (token set to itself) in the same transaction: on PostgreSQL it
 * locks the row, so the lease cannot change hands before `work` commits; SQLite has one writer.
 */
export function fenced<T>(
  ctx: SqlContext,
  fence: LeaseFence,
  work: (db: Kysely<Database>) => Promise<T>,
): Promise<T | null> {
  return atomically(ctx, async (db) => {
    const held = await db
      .updateTable('leases')
      .set({ token: fence.token })
      .where('name', '=', fence.name)
      .where('holder', '=', fence.holder)
      .where('token', '=', fence.token)
      .executeTakeFirst();
    return Number(held.numUpdatedRows) === 1 ? work(db) : null;
  });
}
