/**
 * One batch's update of the directory, pure: the caller reads stored nodes when asked and stores
 * what comes out. Keys are sorted once; the pages on their paths are read level by level (one
 * request per level, whatever the number of keys), and the new tree is built bottom-up in one
 * recursive pass, so each changed node (a leaf, or a page with the up to 15 binary nodes inside it)
 * is hashed once however many keys below it changed.
 *
 *   const update = new DirectoryUpdate(entries, baseRoot);
 *   for (let paths = update.wanted(); paths.length > 0; paths = update.wanted()) {
 *     update.supply(await readNodesAsOf(paths, baseVersion));
 *   }
 *   const { root, nodes, added } = update.result();   // store `nodes` as the new version
 */
import { bytesToHex, isBytes32, type Hex } from '../hex.ts';
import { PackedEntries } from './entries.ts';
import { EMPTY_DIRECTORY_ROOT, KEY_SIZE, leafHash } from './hashing.ts';
import {
  ByteArena,
  decodeNode,
  encodeLeaf,
  encodePage,
  KEY_DIGITS,
  NIBBLE_DIGITS,
  nibbleBit,
  PAGE_WIDTH,
  summarize,
  type LeafNode,
  type StoredNode,
} from './nodes.ts';
import { encodedEnded, encodedSeq, VALUE_SIZE, type DirectoryValue } from './value.ts';

/** A key's new value: a record's state after the batch (its recordKey, and its last event). */
export interface DirectoryEntry {
  key: Hex;
  value: DirectoryValue;
}

/** A node to store under `path` in the new version. */
export interface DirectoryNodeWrite {
  path: string;
  node: Uint8Array;
}

export interface DirectoryChange {
  /** The new directory's root. */
  root: Hex;
  /** Every node that changed (the root's always among them), to store under the new version. */
  nodes: DirectoryNodeWrite[];
  /** How many keys are new (were not in the directory before). */
  added: number;
}

/** A subtree's hash, and whether it is a single leaf (what its parent page records). */
interface Built {
  hash: Uint8Array;
  leaf: boolean;
}

interface Pending {
  path: string;
  lo: number;
  hi: number;
}

export class DirectoryUpdate {
  private readonly entries: PackedEntries;
  private readonly loaded = new Map<string, StoredNode>();
  private pending: Pending[];
  private readonly writes: DirectoryNodeWrite[] = [];
  private readonly arena = new ByteArena();
  private replaced = 0;

  /**
   * `entries`: at most one per key, in any order. `baseRoot`: the root of the directory being
   * updated (EMPTY_DIRECTORY_ROOT for an empty one); the stored root node is checked against it.
   */
  constructor(
    entries: readonly DirectoryEntry[],
    private readonly baseRoot: Hex,
  ) {
    if (!isBytes32(baseRoot)) throw new TypeError('baseRoot must be a bytes32');
    this.entries = PackedEntries.sorted(entries);
    const { count } = this.entries;
    const empty = baseRoot === EMPTY_DIRECTORY_ROOT;
    this.pending = empty || count === 0 ? [] : [{ path: '', lo: 0, hi: count }];
  }

  /** Paths of the stored nodes (as of the base version) to read next; empty once all are read. */
  wanted(): string[] {
    return this.pending.map((p) => p.path);
  }

  /**
   * Takes the nodes `wanted` named, by path (more are ignored). Every one must be there: its parent
   * refers to it, so a missing one is a damaged directory, and this throws.
   */
  supply(nodes: ReadonlyMap<string, Uint8Array>): void {
    const next: Pending[] = [];
    for (const { path, lo, hi } of this.pending) {
      const bytes = nodes.get(path);
      if (!bytes) throw new Error(`directory node at path '${path}' is missing`);
      const node = decodeNode(bytes, path);
      if (path === '') this.checkBaseRoot(node);
      this.loaded.set(path, node);
      if (node.kind === 'page') {
        forEachGroup(this.entries, path.length, lo, hi, (nibble, a, b) => {
          if (node.hashes[nibble] !== null) next.push({ path: path + NIBBLE_DIGITS[nibble], lo: a, hi: b });
        });
      }
    }
    this.pending = next;
  }

  /** The new directory. Call once, after `wanted` has come back empty. */
  result(): DirectoryChange {
    if (this.pending.length > 0) throw new Error('directory update: stored nodes are still wanted');
    const { count } = this.entries;
    if (count === 0) return { root: this.baseRoot, nodes: [], added: 0 };
    const root = this.update('', 0, count, this.loaded.get(''));
    return { root: bytesToHex(root.hash), nodes: this.writes, added: count - this.replaced };
  }

  /** The subtree at `path` with entries lo..hi applied over `existing` (undefined: nothing there yet). */
  private update(path: string, lo: number, hi: number, existing: StoredNode | undefined): Built {
    if (existing === undefined) return this.build(path, this.entries, lo, hi);
    if (existing.kind === 'leaf') return this.updateLeaf(path, lo, hi, existing);
    const hashes = existing.hashes.slice();
    let leafMask = existing.leafMask;
    forEachGroup(this.entries, path.length, lo, hi, (nibble, a, b) => {
      const childPath = path + NIBBLE_DIGITS[nibble];
      let below: StoredNode | undefined;
      if (hashes[nibble] !== null) {
        below = this.loaded.get(childPath);
        if (!below) throw new Error(`directory node at path '${childPath}' was not read`);
      }
      const child = this.update(childPath, a, b, below);
      hashes[nibble] = child.hash;
      leafMask = child.leaf ? leafMask | nibbleBit(nibble) : leafMask & ~nibbleBit(nibble);
    });
    return this.writePage(path, hashes, leafMask);
  }

  /** Entries lo..hi arriving where one leaf sits: its new value, or a page holding it and them. */
  private updateLeaf(path: string, lo: number, hi: number, leaf: LeafNode): Built {
    const e = this.entries;
    let at = lo;
    while (at < hi && e.compareKeys(at, leaf.key, 0) !== 0) at++;
    if (at < hi) {
      assertFollows(e, at, leaf.value);
      this.replaced++;
      return hi - lo === 1 ? this.writeLeaf(path, e, at) : this.build(path, e, lo, hi);
    }
    // A new key lands on this leaf's place: the leaf moves down beside it, its value unchanged.
    const merged = PackedEntries.withOne(e, lo, hi, leaf.key, leaf.value);
    return this.build(path, merged, 0, merged.count);
  }

  /** A subtree with nothing stored below `path` yet, holding entries lo..hi of `e`. */
  private build(path: string, e: PackedEntries, lo: number, hi: number): Built {
    if (hi - lo === 1) return this.writeLeaf(path, e, lo);
    const hashes = new Array<Uint8Array | null>(PAGE_WIDTH).fill(null);
    let leafMask = 0;
    forEachGroup(e, path.length, lo, hi, (nibble, a, b) => {
      const child = this.build(path + NIBBLE_DIGITS[nibble], e, a, b);
      hashes[nibble] = child.hash;
      if (child.leaf) leafMask |= nibbleBit(nibble);
    });
    return this.writePage(path, hashes, leafMask);
  }

  private writeLeaf(path: string, e: PackedEntries, i: number): Built {
    const [keyAt, valueAt] = [i * KEY_SIZE, i * VALUE_SIZE];
    this.writes.push({ path, node: encodeLeaf(e.keys, e.values, this.arena, keyAt, valueAt) });
    return { hash: leafHash(e.keys, e.values, keyAt, valueAt), leaf: true };
  }

  private writePage(path: string, hashes: (Uint8Array | null)[], leafMask: number): Built {
    this.writes.push({ path, node: encodePage(hashes, leafMask, this.arena) });
    // A page holds two keys or more, so its summary is an internal node.
    return { hash: summarize({ kind: 'page', hashes, leafMask })!.hash, leaf: false };
  }

  private checkBaseRoot(node: StoredNode): void {
    const hash = node.kind === 'leaf' ? leafHash(node.key, node.value) : summarize(node)?.hash;
    if (!hash || bytesToHex(hash) !== this.baseRoot) {
      throw new Error('the stored directory root node does not hash to the base root');
    }
  }
}

/** Calls `visit` for each run of entries lo..hi of `e` sharing nibble `depth`, in nibble order. */
function forEachGroup(
  e: PackedEntries,
  depth: number,
  lo: number,
  hi: number,
  visit: (nibble: number, lo: number, hi: number) => void,
): void {
  if (depth >= KEY_DIGITS) throw new Error('directory keys collide on all 64 digits');
  let start = lo;
  while (start < hi) {
    const nibble = e.nibble(start, depth);
    let end = start + 1;
    while (end < hi && e.nibble(end, depth) === nibble) end++;
    visit(nibble, start, end);
    start = end;
  }
}

/** A record's state only moves forward: a later event, and none after one that ended it. */
function assertFollows(e: PackedEntries, i: number, before: Uint8Array): void {
  const [from, to] = [encodedSeq(before), encodedSeq(e.value(i))];
  if (encodedEnded(before) || to <= from) {
    const ended = encodedEnded(before) ? ' (ended)' : '';
    throw new RangeError(`key ${e.hexKey(i)} cannot go from seq ${from}${ended} to seq ${to}`);
  }
}
