/**
 * Files only the service may read: the SQLite database with its -wal and -shm, and the development
 * admin token and server key beside them in DATA_DIR. The directory is created 0700 and the files
 * 0600, whatever the umask; ones an older version left readable to others are tightened.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';

/**
 * Creates `path` (and its parents) mode 0700, or takes group and other access away from it if it
 * exists and this process owns it. A directory someone else owns (a shared mount the operator set
 * up) is left as it is: changing it is theirs to do, and this process could not.
 */
export function privateDirectory(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  const { mode, uid } = statSync(path);
  if ((mode & 0o077) !== 0 && uid === process.getuid?.()) chmodSync(path, mode & 0o700);
}

/** Creates `path` empty with mode 0600 if it does not exist; sets an existing one to 0600. */
export function privateFile(path: string): void {
  closeSync(openSync(path, 'a', 0o600));
  chmodSync(path, 0o600);
}

/** Sets `path` to mode 0600 if it exists. */
export function tightenIfPresent(path: string): void {
  if (existsSync(path)) chmodSync(path, 0o600);
}
