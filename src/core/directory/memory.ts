/**
 * The directory held in memory, latest version only: for tests, the vector generator and the
 * benchmarks (the service keeps its versions in storage through src/service/directory.ts). It runs
 * the same update and proof code as the stored directory.
 */
import type { Hex } from '../hex.ts';
import { EMPTY_DIRECTORY_ROOT } from './hashing.ts';
import { proveDirectoryKey } from './prove.ts';
import type { DirectoryProof } from './proof.ts';
import { DirectoryUpdate, type DirectoryEntry } from './update.ts';

export class InMemoryDirectory {
  /** The latest page at each path (the version a parent names is always the latest). */
  private readonly pages = new Map<string, Uint8Array>();
  private currentRoot: Hex = EMPTY_DIRECTORY_ROOT;
  private version = 0;
  private keys = 0;

  get root(): Hex {
    return this.currentRoot;
  }

  /** How many keys it holds. */
  get size(): number {
    return this.keys;
  }

  /** How many pages it holds. */
  get pageCount(): number {
    return this.pages.size;
  }

  /** Applies one batch's entries (at most one per key) and returns the new root. */
  apply(entries: readonly DirectoryEntry[]): Hex {
    const base = this.version === 0 ? null : { root: this.currentRoot, version: this.version };
    const update = new DirectoryUpdate(entries, base, this.version + 1);
    for (let keys = update.wanted(); keys.length > 0; keys = update.wanted()) {
      update.supply(keys.map(({ path }) => this.pages.get(path)!));
    }
    const change = update.result();
    for (const { path, page } of change.pages) this.pages.set(path, page);
    this.currentRoot = change.root;
    this.version++;
    this.keys += change.added;
    return change.root;
  }

  prove(key: Hex): DirectoryProof {
    const search = proveDirectoryKey(this.currentRoot, this.version, key, ({ path }) => this.pages.get(path));
    if ('missing' in search) throw new Error(`directory page at path '${search.missing.path}' is missing`);
    return search.proof;
  }
}
