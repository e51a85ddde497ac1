/**
 * The one storage error callers act on. Backends translate their own signals (PostgreSQL 23505,
 * SQLite's SQLITE_CONSTRAINT_PRIMARYKEY/UNIQUE, the memory store's own checks) into it, so the
 * service lets the database decide races without knowing which database it is.
 */
export class DuplicateKeyError extends Error {
  override name = 'DuplicateKeyError';
}

export function isDuplicateKey(err: unknown): err is DuplicateKeyError {
  return err instanceof DuplicateKeyError;
}
