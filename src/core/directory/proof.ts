/**
 * A directory proof: the path from the root down a key's bits to the node where the key's walk ends,
 * with the hash of each sibling on the way. It proves membership when the walk ends at the key's own
 * leaf, and non-membership when it ends at an empty node or at another key's leaf (that key then
 * shares every bit of the path, so the key asked for would have had to sit in its place).
 *
 * Byte encoding (docs/proof-format.md specifies it for other implementations):
 *
 *   version   1 byte   0x01
 *   terminal  1 byte   0x00 empty | 0x01 the key's own leaf | 0x02 another key's leaf
 *   depth     2 bytes  uint16 big-endian, 0..256: the terminal node's depth (0 = the root)
 *   bitmap    ceil(depth/8) bytes: bit i-1 (most significant first) set when the sibling at depth
 *             i is not empty; unused bits zero
 *   siblings  32 bytes for each set bit, by depth from 1 down to `depth`
 *   leaf      0x01: value (37 bytes); 0x02: key (32 bytes) ++ value (37 bytes); 0x00: nothing
 *
 * Every proof has exactly one encoding: a decoder refuses trailing bytes, unused bitmap bits that are
 * set, and an ended byte other than 0 or 1.
 */
import { bytesToHex, hexToBytes, isBytes32, type Hex } from '../hex.ts';
import { HASH_SIZE, KEY_BITS, KEY_SIZE } from './hashing.ts';
import { readValue, VALUE_SIZE, writeValue, type DirectoryValue } from './value.ts';

export const PROOF_VERSION = 0x01;

export type DirectoryProofTerminal =
  | { kind: 'empty' }
  /** The key's own leaf: the key is present with this value. */
  | { kind: 'leaf'; value: DirectoryValue }
  /** Another key's leaf, sitting where the key's walk ends: the key is absent. */
  | { kind: 'other'; key: Hex; value: DirectoryValue };

export interface DirectoryProof {
  /** The terminal node's depth: 0 when it is the root. */
  depth: number;
  /** The sibling at each depth 1..depth, top down (siblings[0] at depth 1); null for an empty one. */
  siblings: (Hex | null)[];
  terminal: DirectoryProofTerminal;
}

const TERMINAL_CODES = { empty: 0x00, leaf: 0x01, other: 0x02 } as const;
const HEADER_SIZE = 4;

export function encodeDirectoryProof(proof: DirectoryProof): Uint8Array {
  const { depth, siblings, terminal } = proof;
  if (!Number.isInteger(depth) || depth < 0 || depth > KEY_BITS || siblings.length !== depth) {
    throw new RangeError('a directory proof needs a depth of 0..256 and one sibling entry per depth');
  }
  const present = siblings.filter((s): s is Hex => s !== null);
  const bitmapSize = Math.ceil(depth / 8);
  const tail = terminal.kind === 'empty' ? 0 : terminal.kind === 'leaf' ? VALUE_SIZE : KEY_SIZE + VALUE_SIZE;
  const out = new Uint8Array(HEADER_SIZE + bitmapSize + present.length * HASH_SIZE + tail);
  out[0] = PROOF_VERSION;
  out[1] = TERMINAL_CODES[terminal.kind];
  out[2] = depth >>> 8;
  out[3] = depth & 0xff;
  let at = HEADER_SIZE + bitmapSize;
  siblings.forEach((sibling, i) => {
    if (sibling === null) return;
    if (!isBytes32(sibling)) throw new TypeError(`sibling at depth ${i + 1} is not a bytes32`);
    out[HEADER_SIZE + (i >>> 3)]! |= 0x80 >>> (i & 7);
    out.set(hexToBytes(sibling), at);
    at += HASH_SIZE;
  });
  if (terminal.kind === 'other') {
    if (!isBytes32(terminal.key)) throw new TypeError('the terminal key is not a bytes32');
    out.set(hexToBytes(terminal.key), at);
    at += KEY_SIZE;
  }
  if (terminal.kind !== 'empty') writeValue(terminal.value, out, at);
  return out;
}

/** The proof `bytes` encode, or null when they are not exactly one well-formed encoding. */
export function decodeDirectoryProof(bytes: Uint8Array): DirectoryProof | null {
  if (bytes.length < HEADER_SIZE || bytes[0] !== PROOF_VERSION) return null;
  const code = bytes[1];
  const depth = (bytes[2]! << 8) | bytes[3]!;
  if (depth > KEY_BITS) return null;
  const bitmapSize = Math.ceil(depth / 8);
  if (bytes.length < HEADER_SIZE + bitmapSize) return null;
  const siblings: (Hex | null)[] = [];
  let at = HEADER_SIZE + bitmapSize;
  for (let i = 0; i < depth; i++) {
    if ((bytes[HEADER_SIZE + (i >>> 3)]! & (0x80 >>> (i & 7))) === 0) {
      siblings.push(null);
      continue;
    }
    if (bytes.length < at + HASH_SIZE) return null;
    siblings.push(bytesToHex(bytes.subarray(at, at + HASH_SIZE)));
    at += HASH_SIZE;
  }
  // Bits past `depth` in the bitmap's last byte would be a second encoding of the same proof.
  if (depth % 8 !== 0 && (bytes[HEADER_SIZE + bitmapSize - 1]! & (0xff >>> (depth % 8))) !== 0) return null;
  let terminal: DirectoryProofTerminal;
  if (code === TERMINAL_CODES.empty) {
    terminal = { kind: 'empty' };
  } else if (code === TERMINAL_CODES.leaf || code === TERMINAL_CODES.other) {
    let key: Hex | null = null;
    if (code === TERMINAL_CODES.other) {
      if (bytes.length < at + KEY_SIZE) return null;
      key = bytesToHex(bytes.subarray(at, at + KEY_SIZE));
      at += KEY_SIZE;
    }
    if (bytes.length < at + VALUE_SIZE) return null;
    const value = readValue(bytes, at);
    if (value === null) return null;
    at += VALUE_SIZE;
    terminal = key === null ? { kind: 'leaf', value } : { kind: 'other', key, value };
  } else {
    return null;
  }
  return at === bytes.length ? { depth, siblings, terminal } : null;
}
