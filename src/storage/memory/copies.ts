/** What crosses the memory store's boundary is copied, so no caller ever holds a stored object. */

/** A copy of a row (every column is a primitive, so a shallow copy is a full one). */
export function copyRow<R extends object>(row: R): R {
  return { ...row };
}

/**
 * `change` applied to a copy of `row`, skipping undefined values (as an SQL UPDATE built from the
 * same object does: Kysely leaves undefined columns out).
 */
export function withChange<R extends object>(row: R, change: Partial<R>): R {
  const out = { ...row };
  for (const [column, value] of Object.entries(change)) {
    if (value !== undefined) (out as Record<string, unknown>)[column] = value;
  }
  return out;
}

/** Text order as SQL's binary collation sorts ASCII: by code unit. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
