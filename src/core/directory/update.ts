/**
 * One batch's update of the directory, pure: the caller reads stored pages when asked and stores
 * what comes out. Keys are sorted once; the pages on their paths are read level by level (one
 * request per level, whatever the number of keys), and the new tree is built bottom-up in one
 * recursive pass, so each changed node (a leaf, or a page with the up to 15 binary nodes inside it)
 * is hashed once however many keys below it changed.
 *
 *   const update = new DirectoryUpdate(entries, base, version);
 *   for (let keys = update.wanted(); keys.length > 0; keys = update.wanted()) {
 *     update.supply(await readPages(keys));
 *   }
 *   const { root, pages, added } = update.result();   // store `pages` under `version`
 */
import { bytesToHex, isBytes32, type Hex } from '../hex.ts';
import { PackedEntries } from './entries.ts';
import { EMPTY_DIRECTORY_ROOT, EMPTY_HASH, leafHash } from './hashing.ts';
import {
  ByteArena,
  decodePage,
  encodePage,
  KEY_DIGITS,
  NIBBLE_DIGITS,
  PAGE_WIDTH,
  summarize,
  type Page,
  type PageChild,
} from './pages.ts';
import { encodedEnded, encodedSeq, type DirectoryValue } from './value.ts';

/** A key's new value: a record's state after the batch (its recordKey, and its last event). */
export interface DirectoryEntry {
  key: Hex;
  value: DirectoryValue;
}

/** Where a stored page is: the version that wrote it, and its path. */
export interface DirectoryPageKey {
  version: number;
  path: string;
}

/** A page to store under `path` in the new version (pages.ts lays pages out). */
export interface DirectoryPageWrite {
  path: string;
  page: Uint8Array;
}

/** The directory an update applies to: its root, and the version whose root page is that root's. */
export interface DirectoryBase {
  root: Hex;
  version: number;
}

export interface DirectoryChange {
  /** The new directory's root. */
  root: Hex;
  /** Every page that changed (the root page always among them), to store under the new version. */
  pages: DirectoryPageWrite[];
  /** How many keys are new (were not in the directory before). */
  added: number;
}

interface Pending {
  key: DirectoryPageKey;
  lo: number;
  hi: number;
}

export class DirectoryUpdate {
  private readonly entries: PackedEntries;
  private readonly loaded = new Map<string, Page>();
  private pending: Pending[];
  private readonly writes: DirectoryPageWrite[] = [];
  private readonly arena = new ByteArena();
  private replaced = 0;

  private readonly baseRoot: Hex;

  /**
   * `entries`: at most one per key, in any order. `base`: the directory they apply to (null: an
   * empty one); its root page is checked against its root. `version`: the version the new pages are
   * stored under, which the pages written record for their children.
   */
  constructor(
    entries: readonly DirectoryEntry[],
    base: DirectoryBase | null,
    private readonly version: number,
  ) {
    if (base !== null && !isBytes32(base.root)) throw new TypeError('the base root must be a bytes32');
    if (base !== null && !(version > base.version))
      throw new RangeError('the new version must follow the base');
    this.baseRoot = base?.root ?? EMPTY_DIRECTORY_ROOT;
    this.entries = PackedEntries.sorted(entries);
    const { count } = this.entries;
    const empty = this.baseRoot === EMPTY_DIRECTORY_ROOT;
    this.pending =
      empty || count === 0 ? [] : [{ key: { version: base!.version, path: '' }, lo: 0, hi: count }];
  }

  /** The stored pages to read next; empty once all are read. */
  wanted(): DirectoryPageKey[] {
    return this.pending.map((p) => p.key);
  }

  /** Takes the pages `wanted` named, in the order it named them. */
  supply(pages: readonly Uint8Array[]): void {
    if (pages.length !== this.pending.length) throw new RangeError('supply the pages wanted, in order');
    const next: Pending[] = [];
    this.pending.forEach(({ key: { path }, lo, hi }, i) => {
      const page = decodePage(pages[i]!, path);
      if (path === '' && bytesToHex(summarize(page)?.hash ?? EMPTY_HASH) !== this.baseRoot) {
        throw new Error('the stored directory root page does not hash to the base root');
      }
      this.loaded.set(path, page);
      forEachGroup(this.entries, path.length, lo, hi, (nibble, a, b) => {
        const child = page[nibble];
        if (child?.leaf === false) {
          next.push({ key: { version: child.version, path: path + NIBBLE_DIGITS[nibble] }, lo: a, hi: b });
        }
      });
    });
    this.pending = next;
  }

  /** The new directory. Call once, after `wanted` has come back empty. */
  result(): DirectoryChange {
    if (this.pending.length > 0) throw new Error('directory update: stored pages are still wanted');
    const { count } = this.entries;
    if (count === 0) return { root: this.baseRoot, pages: [], added: 0 };
    // The root page always exists; holding a single key, it hashes to that key's leaf.
    const root = this.updatePage('', this.entries, 0, count, this.loaded.get(''));
    return { root: bytesToHex(root.hash), pages: this.writes, added: count - this.replaced };
  }

  /**
   * Writes the page at `path` with entries lo..hi of `e` applied over `existing` (undefined: a new
   * page) and returns what its parent records of it.
   */
  private updatePage(
    path: string,
    e: PackedEntries,
    lo: number,
    hi: number,
    existing: Page | undefined,
  ): PageChild {
    const page: Page = existing ? existing.slice() : new Array<PageChild | null>(PAGE_WIDTH).fill(null);
    forEachGroup(e, path.length, lo, hi, (nibble, a, b) => {
      const childPath = path + NIBBLE_DIGITS[nibble];
      const child = page[nibble] ?? null;
      if (child === null) {
        page[nibble] = this.child(childPath, e, a, b);
      } else if (child.leaf) {
        page[nibble] = this.onLeaf(childPath, e, a, b, child);
      } else {
        const below = this.loaded.get(childPath);
        if (!below) throw new Error(`directory page at path '${childPath}' was not read`);
        page[nibble] = this.updatePage(childPath, e, a, b, below);
      }
    });
    this.writes.push({ path, page: encodePage(page, this.arena) });
    return { leaf: false, hash: summarize(page)!.hash, version: this.version };
  }

  /** Entries lo..hi of `e` arriving where one key's leaf is held: its new value, or a page for all. */
  private onLeaf(
    path: string,
    e: PackedEntries,
    lo: number,
    hi: number,
    leaf: PageChild & { leaf: true },
  ): PageChild {
    let at = lo;
    while (at < hi && e.compareKeys(at, leaf.key, 0) !== 0) at++;
    if (at < hi) {
      assertFollows(e, at, leaf.value);
      this.replaced++;
      return this.child(path, e, lo, hi);
    }
    // A new key lands on this leaf's place: the leaf moves down beside it, its value unchanged.
    const merged = PackedEntries.withOne(e, lo, hi, leaf.key, leaf.value);
    return this.child(path, merged, 0, merged.count);
  }

  /** A child with nothing stored below `path` yet, holding entries lo..hi of `e`: a leaf or a new page. */
  private child(path: string, e: PackedEntries, lo: number, hi: number): PageChild {
    if (hi - lo > 1) return this.updatePage(path, e, lo, hi, undefined);
    const [key, value] = [e.key(lo), e.value(lo)];
    return { leaf: true, hash: leafHash(key, value), key, value };
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
