/** What every SQL store is built on: the database or a transaction on it, and the compiled queries. */
import type { Kysely, Transaction } from 'kysely';
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
