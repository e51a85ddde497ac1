/**
 * How the directory is laid out in storage (not part of the proof format; only this service reads it).
 * The binary tree is cut into pages of four levels, as Diem's and Aptos' Jellyfish Merkle tree does:
 * a page holds the hashes of up to 16 children, one per value of the next hex digit (nibble) of the
 * key, and the binary nodes inside it are recomputed from those. A node is stored under its path:
 * the hex digits of the key that lead to it ('' is the root). A child is a page (two or more keys
 * under it) or a leaf (exactly one).
 *
 *   leaf  0x01 ++ key (32 bytes) ++ value (37 bytes)
 *   page  0x02 ++ child mask (uint16 BE) ++ leaf mask (uint16 BE) ++ 32-byte hash of each child,
 *         in nibble order; nibble n is bit 15 - n of a mask
 */
import { EMPTY_HASH, HASH_SIZE, internalHash, KEY_SIZE } from './hashing.ts';
import { VALUE_SIZE } from './value.ts';

export const PAGE_WIDTH = 16;
/** A key as a path: 64 lowercase hex digits. */
export const KEY_DIGITS = 64;

export interface LeafNode {
  kind: 'leaf';
  key: Uint8Array;
  /** The value's 37-byte encoding (value.ts). */
  value: Uint8Array;
}

export interface PageNode {
  kind: 'page';
  /** The hash of the child at each nibble 0..15; null where no key continues with that nibble. */
  hashes: (Uint8Array | null)[];
  /** Which children are single leaves (the others are pages): nibble n is bit nibbleBit(n). */
  leafMask: number;
}

export type StoredNode = LeafNode | PageNode;

/** The bit of nibble `n` in a page's masks. */
export const nibbleBit = (n: number): number => 0x8000 >>> n;

const LEAF_CODE = 0x01;
const PAGE_CODE = 0x02;
const LEAF_BYTES = 1 + KEY_SIZE + VALUE_SIZE;
const PAGE_HEADER = 5;

/**
 * Hands out byte arrays cut from large shared buffers. Typed arrays over 64 bytes each get a buffer
 * of their own outside V8's heap, which costs far more than the bytes: an update writing 200,000
 * nodes spent more time allocating them than hashing.
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

/** A stored leaf: the key in `key` from `keyAt`, the encoded value in `value` from `valueAt`. */
export function encodeLeaf(
  key: Uint8Array,
  value: Uint8Array,
  arena?: ByteArena,
  keyAt = 0,
  valueAt = 0,
): Uint8Array {
  const out = arena ? arena.take(LEAF_BYTES) : new Uint8Array(LEAF_BYTES);
  out[0] = LEAF_CODE;
  for (let i = 0; i < KEY_SIZE; i++) out[1 + i] = key[keyAt + i]!;
  for (let i = 0; i < VALUE_SIZE; i++) out[1 + KEY_SIZE + i] = value[valueAt + i]!;
  return out;
}

export function encodePage(
  hashes: readonly (Uint8Array | null)[],
  leafMask: number,
  arena?: ByteArena,
): Uint8Array {
  let present = 0;
  for (const hash of hashes) if (hash !== null) present++;
  const size = PAGE_HEADER + present * HASH_SIZE;
  const out = arena ? arena.take(size) : new Uint8Array(size);
  out[0] = PAGE_CODE;
  let childMask = 0;
  let at = PAGE_HEADER;
  for (let n = 0; n < PAGE_WIDTH; n++) {
    const hash = hashes[n];
    if (!hash) continue;
    childMask |= nibbleBit(n);
    out.set(hash, at);
    at += HASH_SIZE;
  }
  out[1] = childMask >>> 8;
  out[2] = childMask & 0xff;
  out[3] = leafMask >>> 8;
  out[4] = leafMask & 0xff;
  return out;
}

/**
 * The node `bytes` encode (its arrays are views into `bytes`); throws on anything else (stored nodes
 * are only ever written by encodeLeaf and encodePage).
 */
export function decodeNode(bytes: Uint8Array, path: string): StoredNode {
  if (bytes[0] === LEAF_CODE && bytes.length === LEAF_BYTES && bytes[LEAF_BYTES - 1]! <= 1) {
    return { kind: 'leaf', key: bytes.subarray(1, 1 + KEY_SIZE), value: bytes.subarray(1 + KEY_SIZE) };
  }
  if (bytes[0] === PAGE_CODE && bytes.length >= PAGE_HEADER) {
    const childMask = (bytes[1]! << 8) | bytes[2]!;
    const leafMask = (bytes[3]! << 8) | bytes[4]!;
    const hashes: (Uint8Array | null)[] = [];
    let at = PAGE_HEADER;
    for (let n = 0; n < PAGE_WIDTH; n++) {
      if ((childMask & nibbleBit(n)) === 0) {
        hashes.push(null);
      } else {
        hashes.push(bytes.subarray(at, at + HASH_SIZE));
        at += HASH_SIZE;
      }
    }
    if (at === bytes.length && (leafMask & ~childMask) === 0) return { kind: 'page', hashes, leafMask };
  }
  throw new Error(`directory node at path '${path}' is malformed`);
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
export function summarize(page: PageNode, from = 0, size = PAGE_WIDTH): Summary {
  for (let i = 0; i < size; i++) {
    const hash = page.hashes[from + i];
    scratchHashes[i] = hash ?? EMPTY_HASH;
    scratchKinds[i] = !hash ? EMPTY : page.leafMask & nibbleBit(from + i) ? LEAF : INTERNAL;
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
