/**
 * What the item directory maps each record key to: the record's latest state after a batch. Encoded
 * in 37 bytes, the same in a stored leaf, a leaf's hash and a proof:
 *
 *   seq (uint32, big-endian, 4 bytes) ++ leaf (32 bytes) ++ ended (1 byte: 0x00 or 0x01)
 */
import { assertBytes32, bytesToHex, type Hex } from '../hex.ts';
import { MAX_SEQ } from '../leaf.ts';
import { readHex32 } from './hex32.ts';

export const VALUE_SIZE = 37;

export interface DirectoryValue {
  /** The seq of the record's latest event. */
  seq: number;
  /** That event's leaf. */
  leaf: Hex;
  /** Whether that event ended the record (see lifecycle.ts endsRecord): no event may follow it. */
  ended: boolean;
}

/** Throws a TypeError naming the first rule `value` breaks. */
export function assertDirectoryValue(value: DirectoryValue): void {
  if (!Number.isInteger(value.seq) || value.seq < 0 || value.seq > MAX_SEQ) {
    throw new TypeError('seq must be an integer from 0 to 2^32-1');
  }
  assertBytes32(value.leaf, 'leaf');
  if (typeof value.ended !== 'boolean') throw new TypeError('ended must be a boolean');
}

/** The 37-byte encoding of `value`. */
export function encodeValue(value: DirectoryValue): Uint8Array {
  const out = new Uint8Array(VALUE_SIZE);
  writeValue(value, out, 0);
  return out;
}

/** Writes the 37-byte encoding of `value` into `out` at `offset`; throws as assertDirectoryValue does. */
export function writeValue(value: DirectoryValue, out: Uint8Array, offset: number): void {
  const { seq, leaf, ended } = value;
  if (!Number.isInteger(seq) || seq < 0 || seq > MAX_SEQ || typeof ended !== 'boolean') {
    assertDirectoryValue(value);
  }
  if (!readHex32(leaf, out, offset + 4)) assertDirectoryValue(value);
  out[offset] = seq >>> 24;
  out[offset + 1] = (seq >>> 16) & 0xff;
  out[offset + 2] = (seq >>> 8) & 0xff;
  out[offset + 3] = seq & 0xff;
  out[offset + 36] = ended ? 1 : 0;
}

/** The value encoded at `offset` of `bytes`, or null when its ended byte is neither 0 nor 1. */
export function readValue(bytes: Uint8Array, offset: number): DirectoryValue | null {
  const ended = bytes[offset + 36];
  if (ended !== 0 && ended !== 1) return null;
  return {
    seq: encodedSeq(bytes.subarray(offset)),
    leaf: bytesToHex(bytes.subarray(offset + 4, offset + 36)),
    ended: ended === 1,
  };
}

/** The seq of an encoded value. */
export function encodedSeq(value: Uint8Array): number {
  return ((value[0]! << 24) | (value[1]! << 16) | (value[2]! << 8) | value[3]!) >>> 0;
}

/** Whether an encoded value is of an ended record. */
export function encodedEnded(value: Uint8Array): boolean {
  return value[36] === 1;
}
