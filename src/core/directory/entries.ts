/**
 * An update's entries, parsed once and sorted by key, packed into two byte arrays: entry i's key at
 * keys[32i..32i+31] and its value's encoding at values[37i..37i+36]. Packed, a million entries are
 * two allocations instead of millions of small arrays and strings (which cost more than the hashing).
 */
import { bytesToHex } from '../hex.ts';
import { KEY_SIZE } from './hashing.ts';
import { readHex32 } from './hex32.ts';
import { VALUE_SIZE, writeValue, type DirectoryValue } from './value.ts';

export class PackedEntries {
  private constructor(
    readonly keys: Uint8Array,
    readonly values: Uint8Array,
    readonly count: number,
  ) {}

  /** `entries` sorted by key; throws on a malformed key or value, or a key given twice. */
  static sorted(entries: readonly { key: string; value: DirectoryValue }[]): PackedEntries {
    const count = entries.length;
    const keys = new Uint8Array(count * KEY_SIZE);
    const values = new Uint8Array(count * VALUE_SIZE);
    entries.forEach(({ key, value }, i) => {
      if (!readHex32(key, keys, i * KEY_SIZE)) throw new TypeError('a directory key must be a bytes32');
      writeValue(value, values, i * VALUE_SIZE);
    });
    const order = sortOrder(keys, count);
    const sorted = new PackedEntries(new Uint8Array(keys.length), new Uint8Array(values.length), count);
    order.forEach((from, to) => sorted.copyFrom(to, keys, values, from));
    for (let i = 1; i < count; i++) {
      if (sorted.compareKeys(i - 1, sorted.keys, i * KEY_SIZE) === 0) {
        throw new RangeError(`key ${sorted.hexKey(i)} is updated twice`);
      }
    }
    return sorted;
  }

  /** Entries lo..hi of `from` with one more (`key`, encoded `value`) put in key order. */
  static withOne(
    from: PackedEntries,
    lo: number,
    hi: number,
    key: Uint8Array,
    value: Uint8Array,
  ): PackedEntries {
    const out = new PackedEntries(
      new Uint8Array((hi - lo + 1) * KEY_SIZE),
      new Uint8Array((hi - lo + 1) * VALUE_SIZE),
      hi - lo + 1,
    );
    let to = 0;
    let placed = false;
    for (let i = lo; i < hi; i++) {
      if (!placed && from.compareKeys(i, key, 0) > 0) {
        out.copyFrom(to++, key, value, 0);
        placed = true;
      }
      out.copyFrom(to++, from.keys, from.values, i);
    }
    if (!placed) out.copyFrom(to, key, value, 0);
    return out;
  }

  /** Nibble `depth` (0 = the high half of byte 0) of entry i's key. */
  nibble(i: number, depth: number): number {
    const byte = this.keys[i * KEY_SIZE + (depth >>> 1)]!;
    return depth & 1 ? byte & 0x0f : byte >>> 4;
  }

  /** Entry i's key against the 32 bytes of `other` at `offset`, as byte order compares them. */
  compareKeys(i: number, other: Uint8Array, offset: number): number {
    const base = i * KEY_SIZE;
    for (let b = 0; b < KEY_SIZE; b++) {
      const d = this.keys[base + b]! - other[offset + b]!;
      if (d !== 0) return d;
    }
    return 0;
  }

  key(i: number): Uint8Array {
    return this.keys.subarray(i * KEY_SIZE, (i + 1) * KEY_SIZE);
  }

  value(i: number): Uint8Array {
    return this.values.subarray(i * VALUE_SIZE, (i + 1) * VALUE_SIZE);
  }

  hexKey(i: number): string {
    return bytesToHex(this.key(i));
  }

  /** Sets entry `to` from the key and value at index `from` of packed `keys` and `values`. */
  private copyFrom(to: number, keys: Uint8Array, values: Uint8Array, from: number): void {
    // Byte loops: a subarray per copy would allocate twice per entry.
    for (let b = 0; b < KEY_SIZE; b++) this.keys[to * KEY_SIZE + b] = keys[from * KEY_SIZE + b]!;
    for (let b = 0; b < VALUE_SIZE; b++) this.values[to * VALUE_SIZE + b] = values[from * VALUE_SIZE + b]!;
  }
}

/**
 * The indexes of the `count` packed keys in key order. Sorting numbers is far cheaper than comparing
 * keys: the first 32 bits of a key times 2^21 plus its index is exact in a double, and only keys
 * sharing those 32 bits are then compared in full.
 */
function sortOrder(keys: Uint8Array, count: number): number[] {
  const compare = (a: number, b: number) => {
    for (let i = 0; i < KEY_SIZE; i++) {
      const d = keys[a * KEY_SIZE + i]! - keys[b * KEY_SIZE + i]!;
      if (d !== 0) return d;
    }
    return a - b;
  };
  const slots = 2 ** 21;
  if (count > slots) return Array.from({ length: count }, (_, i) => i).sort(compare);
  const view = new DataView(keys.buffer, keys.byteOffset, keys.length);
  const order = new Float64Array(count);
  for (let i = 0; i < count; i++) order[i] = view.getUint32(i * KEY_SIZE) * slots + i;
  order.sort();
  const out = Array.from(order, (x) => x % slots);
  for (let start = 0; start < count;) {
    const prefix = Math.floor(order[start]! / slots);
    let end = start + 1;
    while (end < count && Math.floor(order[end]! / slots) === prefix) end++;
    if (end - start > 1) out.splice(start, end - start, ...out.slice(start, end).sort(compare));
    start = end;
  }
  return out;
}
