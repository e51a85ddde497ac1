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
  private readonly nodes = new Map<string, Uint8Array>();
  private currentRoot: Hex = EMPTY_DIRECTORY_ROOT;
  private keys = 0;

  get root(): Hex {
    return this.currentRoot;
  }

  /** How many keys it holds. */
  get size(): number {
    return this.keys;
  }

  /** How many nodes it stores (pages and leaves). */
  get nodeCount(): number {
    return this.nodes.size;
  }

  /** Applies one batch's entries (at most one per key) and returns the new root. */
  apply(entries: readonly DirectoryEntry[]): Hex {
    const update = new DirectoryUpdate(entries, this.currentRoot);
    for (let paths = update.wanted(); paths.length > 0; paths = update.wanted()) {
      update.supply(this.nodes);
    }
    const change = update.result();
    for (const { path, node } of change.nodes) this.nodes.set(path, node);
    this.currentRoot = change.root;
    this.keys += change.added;
    return change.root;
  }

  prove(key: Hex): DirectoryProof {
    const search = proveDirectoryKey(this.currentRoot, key, (path) => this.nodes.get(path));
    if ('missing' in search) throw new Error(`directory node at path '${search.missing}' is missing`);
    return search.proof;
  }
}
