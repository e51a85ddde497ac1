/**
 * How the directory is laid out in storage (not part of the proof format; only this service reads it).
 * The binary tree is cut into pages of four levels, as Diem's and Aptos' Jellyfish Merkle tree does:
 * a page holds up to 16 children, one per value of the next hex digit (nibble) of the key, and the
 * binary nodes inside it are recomputed from those. A child is a single key's leaf, held inside its
 * parent page (so a seal writes and reads one row per page on the changed keys' paths, none per
 * key), or a page of its own (two keys or more below it), stored under (version, path): the version
 * that wrote it and the hex digits that lead to it ('' is the root). The parent records that version,
 * so every read is an exact key, and each version's pages are written side by side (never into the
 * middle of the table). Version N always writes its root page.
 *
 *   page  0x01 (layout) ++ child mask (uint16 BE) ++ leaf mask (uint16 BE) ++ each child in nibble
 *         order: its hash (32 bytes), then for a page its version (uint32 BE), for a leaf its key
 *         (32 bytes) and value (37 bytes)
 *
 * Nibble n is bit 15 - n of a mask.
 */
import { EMPTY_HASH, HASH_SIZE, internalHash, KEY_SIZE } from './hashing.ts';
import { VALUE_SIZE } from './value.ts';

export const PAGE_WIDTH = 16;
/** A key as a path: 64 lowercase hex digits. */
export const KEY_DIGITS = 64;

/** A page's child: a page below it (its hash, and the version that stored it), or one key's leaf. */
export type PageChild =
  | { leaf: false; hash: Uint8Array; version: number }
  | {
      leaf: true;
      hash: Uint8Array;
      key: Uint8Array;
      /** The value's 37-byte encoding (value.ts). */
      value: Uint8Array;
    };

/** A page: its child at each nibble 0..15, null where no key continues with that nibble. */
export type Page = (PageChild | null)[];

/** The bit of nibble `n` in a page's masks. */
export const nibbleBit = (n: number): number => 0x8000 >>> n;

const LAYOUT = 0x01;
const HEADER = 5;
const LEAF_EXTRA = KEY_SIZE + VALUE_SIZE;
const VERSION_SIZE = 4;

/**
 * Hands out byte arrays cut from large shared buffers. Typed arrays over 64 bytes each get a buffer
 * of their own outside V8's heap, which costs far more than the bytes: an update writing 100,000
 * pages spent more time allocating them than hashing.
 */
export class ByteArena {
  private chunk = new Uint8Array(0);
  private used = 0;

  constructor(private readonly chunkSize = 1 << 20) {}

  take(size: number): Uint8Array {
    if (this.used + size > this.chunk.length) {
      this.chunk = new Uint8Array(Math.max(this.chunkSize, size));
      this.used = 0;
    }
    const out = this.chunk.subarray(this.used, this.used + size);
    this.used += size;
    return out;
  }
}

export function encodePage(page: Page, arena?: ByteArena): Uint8Array {
  let size = HEADER;
  for (const child of page) if (child) size += HASH_SIZE + (child.leaf ? LEAF_EXTRA : VERSION_SIZE);
  const out = arena ? arena.take(size) : new Uint8Array(size);
  out[0] = LAYOUT;
  let childMask = 0;
  let leafMask = 0;
  let at = HEADER;
  page.forEach((child, n) => {
    if (!child) return;
    childMask |= nibbleBit(n);
    out.set(child.hash, at);
    at += HASH_SIZE;
    if (!child.leaf) {
      writeUint32(out, at, child.version);
      at += VERSION_SIZE;
      return;
    }
    leafMask |= nibbleBit(n);
    out.set(child.key, at);
    out.set(child.value, at + KEY_SIZE);
    at += LEAF_EXTRA;
  });
  out[1] = childMask >>> 8;
  out[2] = childMask & 0xff;
  out[3] = leafMask >>> 8;
  out[4] = leafMask & 0xff;
  return out;
}

/**
 * The page `bytes` encode (its arrays are views into `bytes`); throws on anything else (pages are
 * only ever written by encodePage).
 */
export function decodePage(bytes: Uint8Array, path: string): Page {
  const fail = () => new Error(`directory page at path '${path}' is malformed`);
  if (bytes[0] !== LAYOUT || bytes.length < HEADER) throw fail();
  const childMask = (bytes[1]! << 8) | bytes[2]!;
  const leafMask = (bytes[3]! << 8) | bytes[4]!;
  if ((leafMask & ~childMask) !== 0) throw fail();
  const page: Page = [];
  let at = HEADER;
  for (let n = 0; n < PAGE_WIDTH; n++) {
    const bit = nibbleBit(n);
    if ((childMask & bit) === 0) {
      page.push(null);
    } else if ((leafMask & bit) === 0) {
      if (at + HASH_SIZE + VERSION_SIZE > bytes.length) throw fail();
      page.push({
        leaf: false,
        hash: bytes.subarray(at, at + HASH_SIZE),
        version: readUint32(bytes, at + HASH_SIZE),
      });
      at += HASH_SIZE + VERSION_SIZE;
    } else {
      const keyAt = at + HASH_SIZE;
      const valueAt = keyAt + KEY_SIZE;
      page.push({
        leaf: true,
        hash: bytes.subarray(at, keyAt),
        key: bytes.subarray(keyAt, valueAt),
        value: bytes.subarray(valueAt, valueAt + VALUE_SIZE),
      });
      at = valueAt + VALUE_SIZE;
    }
    if (at > bytes.length) throw fail();
  }
  if (at !== bytes.length) throw fail();
  return page;
}

function writeUint32(out: Uint8Array, at: number, value: number): void {
  out[at] = value >>> 24;
  out[at + 1] = (value >>> 16) & 0xff;
  out[at + 2] = (value >>> 8) & 0xff;
  out[at + 3] = value & 0xff;
}

function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

/**
 * What a range of a page's children amounts to in the binary tree: null when it holds no key, the
 * leaf itself when it holds exactly one (a leaf sits at the shallowest depth where it is alone),
 * else an internal node.
 */
export type Summary = { hash: Uint8Array; leaf: boolean } | null;

const EMPTY = 0;
const LEAF = 1;
const INTERNAL = 2;
const scratchHashes: Uint8Array[] = new Array<Uint8Array>(PAGE_WIDTH).fill(EMPTY_HASH);
const scratchKinds = new Uint8Array(PAGE_WIDTH);

/** The summary of `size` children of `page` from nibble `from` (size a power of two up to 16). */
export function summarize(page: Page, from = 0, size = PAGE_WIDTH): Summary {
  for (let i = 0; i < size; i++) {
    const child = page[from + i];
    scratchHashes[i] = child?.hash ?? EMPTY_HASH;
    scratchKinds[i] = !child ? EMPTY : child.leaf ? LEAF : INTERNAL;
  }
  // Pairwise up the binary levels, in place: an empty node and a leaf make that leaf, two empties
  // make an empty, anything else an internal node.
  for (let n = size; n > 1; n >>>= 1) {
    for (let i = 0; i < n; i += 2) {
      const left = scratchKinds[i]!;
      const right = scratchKinds[i + 1]!;
      const up = i >>> 1;
      if (left === EMPTY && right !== INTERNAL) {
        scratchKinds[up] = right;
        scratchHashes[up] = scratchHashes[i + 1]!;
      } else if (right === EMPTY && left === LEAF) {
        scratchKinds[up] = LEAF;
        scratchHashes[up] = scratchHashes[i]!;
      } else {
        scratchKinds[up] = INTERNAL;
        scratchHashes[up] = internalHash(scratchHashes[i]!, scratchHashes[i + 1]!);
      }
    }
  }
  return scratchKinds[0] === EMPTY ? null : { hash: scratchHashes[0]!, leaf: scratchKinds[0] === LEAF };
}

/** Nibble `index` of a path or key written as lowercase hex digits. */
export function nibbleAt(hex: string, index: number): number {
  const c = hex.charCodeAt(index);
  return c <= 57 ? c - 48 : c - 87;
}

export const NIBBLE_DIGITS = '0123456789abcdef';
