/**
 * One batch's directory update as a seal in steps runs it, in parts small enough to keep the event
 * loop turning: the batch's events are given a page at a time, the stored pages the update wants are
 * given a read at a time, and the result comes packed, its pages in path order, to be staged in
 * parts. The same class runs on the API's thread (no worker) or in the tree builder's worker
 * (tree-worker.ts), where the hashing (record keys, leaves, pages) then happens; what crosses between
 * the threads is packed into a few buffers and strings, so that neither side spends long copying
 * hundreds of thousands of small objects.
 */
import {
  DirectoryUpdate,
  endsRecord,
  recordKey,
  type DirectoryBase,
  type DirectoryEntry,
  type DirectoryPageKey,
  type DirectoryPageWrite,
  type Hex,
} from '../core/index.ts';
import type { BatchEventRow } from '../storage/rows.ts';

/** Page keys, packed: key i is (versions[i], paths.split(',')[i]); a path is hex digits only. */
export interface PackedKeys {
  count: number;
  versions: Uint32Array;
  paths: string;
}

/** Pages, packed: page i is bytes[offsets[i]..offsets[i + 1]], under path i of `paths` (as above). */
export interface PackedPages {
  count: number;
  offsets: Uint32Array;
  bytes: Uint8Array;
  paths: string;
}

/** What the update comes to: the new root, how many keys are new, and every changed page by path. */
export interface PackedChange {
  root: Hex;
  added: number;
  pages: PackedPages;
}

export class DirectoryJob {
  private readonly last = new Map<string, BatchEventRow>();
  private update: DirectoryUpdate | null = null;
  private level: Uint8Array[] = [];

  constructor(
    private readonly base: DirectoryBase | null,
    private readonly version: number,
  ) {}

  /** More of the batch's events (each record's event with the highest seq counts). */
  add(events: readonly BatchEventRow[]): void {
    if (this.update) throw new Error('directory job: events come before the pages');
    keepLatest(this.last, events);
  }

  /** Pages for the keys the last `next` named, in its order; several calls may share them out. */
  give(pages: readonly Uint8Array[]): void {
    for (const page of pages) this.level.push(page);
  }

  /** The stored pages wanted next (after those given for the last call): none once all are read. */
  next(): PackedKeys {
    if (!this.update) {
      this.update = new DirectoryUpdate(statesOf(this.last), this.base, this.version);
      this.last.clear();
    } else {
      this.update.supply(this.level);
      this.level = [];
    }
    return packKeys(this.update.wanted());
  }

  /** The change, its pages sorted by path. Call once `next` has come back with no keys. */
  result(): PackedChange {
    if (!this.update) throw new Error('directory job: result before next');
    const change = this.update.result();
    return { root: change.root, added: change.added, pages: packPages(change.pages) };
  }
}

/** Keeps in `last` each record's event with the highest seq among `events` and those already kept. */
export function keepLatest(last: Map<string, BatchEventRow>, events: readonly BatchEventRow[]): void {
  for (const event of events) {
    const seen = last.get(event.record_id);
    if (!seen || event.seq > seen.seq) last.set(event.record_id, event);
  }
}

/** The directory entries of records' latest events: each record's key and its state after them. */
export function statesOf(last: ReadonlyMap<string, BatchEventRow>): DirectoryEntry[] {
  return [...last.values()].map((e) => ({
    key: recordKey(e.record_id),
    value: { seq: e.seq, leaf: e.leaf as Hex, ended: endsRecord(e.type) },
  }));
}

export function packKeys(keys: readonly DirectoryPageKey[]): PackedKeys {
  return {
    count: keys.length,
    versions: Uint32Array.from(keys, (k) => k.version),
    paths: keys.map((k) => k.path).join(','),
  };
}

/** Keys from..to of `packed` (paths: its paths already split). */
export function unpackKeys(
  packed: PackedKeys,
  paths: readonly string[],
  from: number,
  to: number,
): DirectoryPageKey[] {
  const out: DirectoryPageKey[] = [];
  for (let i = from; i < to; i++) out.push({ version: packed.versions[i]!, path: paths[i]! });
  return out;
}

/** `pages` sorted by path, in one buffer. */
export function packPages(pages: readonly DirectoryPageWrite[]): PackedPages {
  const sorted = [...pages].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return packed(
    sorted.map((p) => p.page),
    sorted.map((p) => p.path).join(','),
  );
}

/** `pages` in one buffer (with no paths: pages given back for keys asked). */
export function packBytes(pages: readonly Uint8Array[]): PackedPages {
  return packed(pages, '');
}

function packed(pages: readonly Uint8Array[], paths: string): PackedPages {
  const offsets = new Uint32Array(pages.length + 1);
  for (let i = 0; i < pages.length; i++) offsets[i + 1] = offsets[i]! + pages[i]!.length;
  const bytes = new Uint8Array(offsets[pages.length]!);
  pages.forEach((page, i) => bytes.set(page, offsets[i]!));
  return { count: pages.length, offsets, bytes, paths };
}

/** Page i of `packed`, a view into its buffer. */
export function pageAt(packed: PackedPages, i: number): Uint8Array {
  return packed.bytes.subarray(packed.offsets[i]!, packed.offsets[i + 1]!);
}

/** Every page of `packed`, views into its buffer. */
export function unpackBytes(packed: PackedPages): Uint8Array[] {
  return Array.from({ length: packed.count }, (_, i) => pageAt(packed, i));
}

/** Splits packed paths (an empty string is one path, the root's, when count is 1). */
export function splitPaths(paths: string, count: number): string[] {
  return count === 0 ? [] : paths.split(',');
}
