/**
 * How the item directory's nodes hash. The directory is a binary sparse Merkle tree over 256-bit
 * keys with compressed paths: a key's leaf sits at the shallowest depth where no other key shares
 * its path, a subtree with no key is the empty node, and any other subtree is an internal node. Each
 * kind hashes a preimage with its own first byte (and its own length), so no node of one kind can
 * pass for another, nor for an event leaf (32-byte preimage) or a batch-tree node (64 bytes):
 *
 *   empty    = keccak256(0x02)
 *   leaf     = keccak256(0x00 ++ key (32 bytes) ++ value (37 bytes, see value.ts))
 *   internal = keccak256(0x01 ++ left (32 bytes) ++ right (32 bytes))
 *
 * Key bits are read most significant first: bit 0 is the top bit of byte 0, and at depth d a key
 * goes left (0) or right (1) by its bit d.
 */
import { bytesToHex, type Hex } from '../hex.ts';
import { keccak256 } from '../keccak.ts';
import { VALUE_SIZE } from './value.ts';

export const KEY_SIZE = 32;
export const HASH_SIZE = 32;
export const KEY_BITS = 256;

const LEAF_TAG = 0x00;
const INTERNAL_TAG = 0x01;
const EMPTY_TAG = 0x02;

/** The hash of a subtree holding no key. */
export const EMPTY_HASH: Uint8Array = keccak256(Uint8Array.of(EMPTY_TAG));

/** The root of a directory holding no key: EMPTY_HASH as hex. */
export const EMPTY_DIRECTORY_ROOT: Hex = bytesToHex(EMPTY_HASH);

const leafPreimage = new Uint8Array(1 + KEY_SIZE + VALUE_SIZE);
leafPreimage[0] = LEAF_TAG;

/**
 * The hash of the leaf of a key holding a value: the 32 bytes of `key` from `keyAt` and the 37-byte
 * encoding in `value` from `valueAt` (offsets, so packed arrays need no view per leaf).
 */
export function leafHash(key: Uint8Array, value: Uint8Array, keyAt = 0, valueAt = 0): Uint8Array {
  for (let i = 0; i < KEY_SIZE; i++) leafPreimage[1 + i] = key[keyAt + i]!;
  for (let i = 0; i < VALUE_SIZE; i++) leafPreimage[1 + KEY_SIZE + i] = value[valueAt + i]!;
  return keccak256(leafPreimage);
}

const internalPreimage = new Uint8Array(1 + 2 * HASH_SIZE);
internalPreimage[0] = INTERNAL_TAG;

export function internalHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  internalPreimage.set(left, 1);
  internalPreimage.set(right, 1 + HASH_SIZE);
  return keccak256(internalPreimage);
}

/** Bit `index` (0 = the most significant bit of byte 0) of `key`. */
export function keyBit(key: Uint8Array, index: number): number {
  return (key[index >>> 3]! >>> (7 - (index & 7))) & 1;
}

/** How many leading bits `a` and `b` share (256 when equal). */
export function commonPrefixBits(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < KEY_SIZE; i++) {
    const x = a[i]! ^ b[i]!;
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return KEY_BITS;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
