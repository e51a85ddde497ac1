/** The unique-key check every memory store makes before it writes anything. */
import { DuplicateKeyError } from '../errors.ts';
import type { Table } from './journal.ts';

/**
 * Throws DuplicateKeyError if any of `keys` is already in `table` or appears twice among `keys`, as
 * a multi-row SQL insert fails whole on either. Called before the first write, so a failure writes
 * nothing.
 */
export function assertUniqueKeys(table: Table<unknown>, keys: readonly string[], what: string): void {
  const seen = new Set<string>();
  for (const key of keys) {
    if (table.has(key) || seen.has(key)) throw new DuplicateKeyError(`duplicate ${what}: ${key}`);
    seen.add(key);
  }
}
